"""What `ivr check` and `ivr languages status` say per language, and the rules on measured audio."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..flow import Flow, Problem, display
from ..flow.languages import Availability, Lookup, availability
from ..flow.queries import (
    Durations,
    advice_end,
    declared_languages,
    heard_prompts,
    opening,
    option_prompts,
    refuge_offer,
    seconds_until,
)
from .structure import GREETING_BUDGET_SECONDS

log = logging.getLogger(__name__)


def measured_problems(flow: Flow, durations: Durations) -> list[Problem]:
    """Return the prompts whose fresh audio runs over their budget (the text estimate may not)."""
    found = []
    options = option_prompts(flow)
    for lang in declared_languages(flow):
        language = flow.catalogue.languages[lang]
        for pid in heard_prompts(flow):
            length = durations(pid, lang)
            budget = flow.limits.option_seconds if pid in options else flow.limits.prompt_seconds
            if length is not None and length > budget:
                found.append(
                    Problem(
                        display(language.path),
                        language.lines.get(pid),
                        None,
                        f"{lang}: the audio of prompt {pid!r} lasts {length:.1f} s; its budget is {budget} s",
                    )
                )
    return found


def timing_problems(flow: Flow, languages: list[LanguageReport]) -> list[Problem]:
    """Return what callers of each offered language would wait too long for, as measured from the audio:
    the 999 advice (in the greeting, and in their own language) and the key that reaches Refuge."""
    fname = display(flow.path)
    limits = flow.limits
    found: list[Problem] = []

    def late(lang: str, what: str, seconds: float | None, budget: float) -> None:
        if seconds is not None and seconds > budget:
            found.append(
                Problem(
                    fname,
                    None,
                    None,
                    f"{lang}: {what} ends {seconds:.0f} s into the call; it must end within {budget:.0f} s",
                )
            )

    for line in languages:
        if not line.offered or line.failed:
            continue
        late(line.lang, "the 999 advice in the greeting", line.first_999, GREETING_BUDGET_SECONDS)
        late(line.lang, "the offer of Refuge", line.first_refuge, limits.refuge_seconds)
        if line.lang != flow.default_language:
            late(line.lang, "the 999 advice in this language", line.own_999, limits.own_999_seconds)
            late(
                line.lang, "the offer of Refuge in this language", line.own_refuge, limits.own_refuge_seconds
            )
    return found


@dataclass(frozen=True)
class LanguageReport:
    """What `ivr check` says about one language."""

    lang: str
    name: str
    review: str
    offered: bool
    reason: str
    first_999: float | None  # the 999 advice in the default language (the greeting)
    own_999: float | None
    first_refuge: float | None
    own_refuge: float | None
    failed: str | None = None  # why this language could not be judged: a fault in the report itself

    def __str__(self) -> str:
        if self.failed:
            return f"{self.lang} ({self.name}, {self.review}): NOT judged ({self.failed})"
        state = "offered" if self.offered else "NOT offered"
        detail = self.reason.removeprefix("offered: ")
        text = f"{self.lang} ({self.name}, {self.review}): {state} ({detail}); "
        text += f"999 advice within {_s(self.first_999)}"
        if self.own_999 is not None and self.own_999 != self.first_999:
            text += f" in English, {_s(self.own_999)} in {self.name}"
        text += f"; Refuge offered within {_s(self.first_refuge)}"
        if self.own_refuge is not None and self.own_refuge != self.first_refuge:
            text += f" in English, {_s(self.own_refuge)} in {self.name}"
        return text


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


def report(
    flow: Flow, audio: Lookup | None = None, durations: Durations | None = None
) -> list[LanguageReport]:
    """Report every declared language: review state, offered or why not, seconds to 999 and Refuge.

    A language whose report fails (a flow no rule foresaw) is reported as not judged, with why,
    and logged; `report` never raises.
    """
    found: dict[str, Availability | LanguageReport] = {}
    for lang in declared_languages(flow):
        try:
            found[lang] = availability(flow, lang, audio)
        except Exception as exc:  # noqa: BLE001 - said on the language's line instead
            found[lang] = _not_judged(flow, lang, exc)
    offered = [lang for lang, a in found.items() if isinstance(a, Availability) and a.offered]
    lines = []
    for lang, avail in found.items():
        if isinstance(avail, LanguageReport):
            lines.append(avail)
            continue
        try:
            lines.append(_language_report(flow, lang, avail, offered, durations))
        except Exception as exc:  # noqa: BLE001 - one language's fault must not hide the others
            lines.append(_not_judged(flow, lang, exc))
    return lines


def _not_judged(flow: Flow, lang: str, exc: Exception) -> LanguageReport:
    """Log a language whose report failed, and return its line: not offered, not judged, and why."""
    log.error("the report of %s failed on the flow in %s", lang, flow.path.parent, exc_info=exc)
    language = flow.catalogue.languages[lang]
    return LanguageReport(
        lang=lang,
        name=language.name,
        review=language.review,
        offered=False,
        reason="not judged",
        first_999=None,
        own_999=None,
        first_refuge=None,
        own_refuge=None,
        failed=f"{type(exc).__name__}: {exc}",
    )


def _language_report(
    flow: Flow, lang: str, avail: Availability, offered: list[str], durations: Durations | None
) -> LanguageReport:
    language = flow.catalogue.languages[lang]
    assumed = offered if lang in offered else [*offered, lang]
    heard = [(p, c) for p, c in opening(flow, lang, assumed) if flow.catalogue.has(p, c)]
    default = flow.default_language
    return LanguageReport(
        lang=lang,
        name=language.name,
        review=language.review,
        offered=avail.offered,
        reason=avail.reason,
        first_999=seconds_until(flow, heard, advice_end(flow, heard, default), durations),
        own_999=seconds_until(flow, heard, advice_end(flow, heard, lang), durations),
        first_refuge=seconds_until(flow, heard, refuge_offer(flow, heard, default), durations),
        own_refuge=seconds_until(flow, heard, refuge_offer(flow, heard, lang), durations),
    )
