"""What `ivr check` and `ivr languages status` say per language, and the rules on measured audio."""

from __future__ import annotations

from dataclasses import dataclass

from ..flow import Flow, Problem, display
from ..flow.languages import Lookup, availability
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

    def __str__(self) -> str:
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
    """Report every declared language: review state, offered or why not, seconds to 999 and Refuge."""
    found = {lang: availability(flow, lang, audio) for lang in declared_languages(flow)}
    offered = [lang for lang, a in found.items() if a.offered]
    lines = []
    for lang, avail in found.items():
        language = flow.catalogue.languages[lang]
        assumed = offered if lang in offered else [*offered, lang]
        heard = [(p, c) for p, c in opening(flow, lang, assumed) if flow.catalogue.has(p, c)]
        default = flow.default_language
        lines.append(
            LanguageReport(
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
        )
    return lines
