"""The figures' types: what a report holds, shared by `report`, its text and CSV, and the charts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class NodeCount:
    """Calls at a node: how many reached it, and how many ended there."""

    node: str
    reached: int
    ended: int


@dataclass
class MenuKeys:
    """What callers pressed at one menu: keys that were options, keys that were not, silences."""

    node: str
    keys: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    silences: int = 0
    gave_up: int = 0

    @property
    def presses(self) -> int:
        """Return every key press here, valid or not."""
        return sum(self.keys.values()) + sum(self.invalid.values())


@dataclass
class Figures:
    """Everything the report and the admin page show, for calls that started in a date range."""

    since: date | None
    until: date | None
    calls: int = 0
    events: int = 0
    calls_per_day: list[tuple[date, int]] = field(default_factory=list)
    nodes: list[NodeCount] = field(default_factory=list)
    edges: list[tuple[str, str, int]] = field(default_factory=list)
    menus: list[MenuKeys] = field(default_factory=list)
    end_statuses: dict[str, int] = field(default_factory=dict)
    transfers_attempted: int = 0
    calls_with_transfer: int = 0
    transfer_outcomes: dict[str, int] = field(default_factory=dict)
    seconds_to_first_transfer: list[float] = field(default_factory=list)
    call_seconds: list[int] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)
    # Events left out because their date is impossible (a clock fault), anywhere in the store.
    ignored: int = 0
    # Events the store lost (not written), per reason, in outages that began in the period.
    lost: dict[str, int] = field(default_factory=dict)

    @property
    def lost_total(self) -> int:
        """Return how many events the store lost in the period, for every reason."""
        return sum(self.lost.values())

    def share(self, count: int) -> float:
        """Return count as a share of all calls (0 when there are none)."""
        return count / self.calls if self.calls else 0.0

    @property
    def median_seconds_to_first_transfer(self) -> float | None:
        """Return the median time from answer to the first transfer attempt, in seconds."""
        return statistics.median(self.seconds_to_first_transfer) if self.seconds_to_first_transfer else None

    @property
    def median_call_seconds(self) -> float | None:
        """Return the median call duration Twilio reported, in seconds."""
        return statistics.median(self.call_seconds) if self.call_seconds else None
