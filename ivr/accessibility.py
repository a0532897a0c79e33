"""Accessibility rules for every language, the speech budget, and the per-language report of `ivr check`."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from .flow import Flow, Problem, _display
from .languages import (
    Durations,
    Lookup,
    availability,
    declared_languages,
    language_node,
    normalise,
    opening,
    says_phrase,
    seconds,
    used_prompts,
)
from .prompts import placeholders

MAX_LANGUAGES = 8  # keys 1..8 (9 is the slow key, 0 Refuge)
NOTE_DIGITS = 5  # a number this long is one to write down: it must be read twice
RAW_DIGITS = re.compile(r"\d{3,}")


def problems(flow: Flow) -> Iterator[Problem]:
    """Yield every accessibility fault of the language menu and of each language."""
    yield from _menu_problems(flow)
    everyone = declared_languages(flow)
    for lang in everyone:
        yield from _language_problems(flow, lang, everyone)


def _menu_problems(flow: Flow) -> Iterator[Problem]:
    fname = _display(flow.path)
    menus = [n for n in flow.nodes.values() if n.kind == "language"]
    for extra in menus[1:]:
        yield Problem(fname, extra.line, extra.id, "only one language menu is allowed")
    for node in flow.nodes.values():
        for option in node.options:
            if option.lang and node.kind != "language":
                yield Problem(
                    fname, option.line, node.id, f"option {option.key}: only a language menu names 'lang'"
                )
    menu = language_node(flow)
    if menu is None:
        return
    if len(menu.options) > MAX_LANGUAGES:
        yield Problem(
            fname, menu.line, menu.id, f"has {len(menu.options)} languages; at most {MAX_LANGUAGES}"
        )
    seen: set[str] = set()
    for option in menu.options:
        if not option.lang:
            yield Problem(
                fname, option.line, menu.id, f"option {option.key} needs 'lang', the language it chooses"
            )
        elif option.lang not in flow.voices:
            yield Problem(
                fname, option.line, menu.id, f"option {option.key}: language {option.lang!r} is not declared"
            )
        elif option.lang in seen:
            yield Problem(
                fname, option.line, menu.id, f"option {option.key}: {option.lang!r} is offered twice"
            )
        seen.add(option.lang or "")
    if flow.default_language not in seen:
        yield Problem(
            fname, menu.line, menu.id, f"the default language {flow.default_language!r} must be an option"
        )


def _language_problems(flow: Flow, lang: str, everyone: Collection[str]) -> Iterator[Problem]:
    language = flow.catalogue.languages[lang]
    lfile = _display(language.path)

    def at(pid: str | None, reason: str) -> Problem:
        line = language.lines.get(pid) if pid else None
        return Problem(lfile, line, None, f"{lang}: {reason}")

    if not language.option_pattern:
        yield at(None, "meta needs an option_pattern: goal-first phrasing cannot be checked without it")
    found = language.meta.get("keys")
    names: dict[str, Any] = found if isinstance(found, dict) else {}
    for key in flow.global_keys:
        if not key.isdigit() and not names.get(key):
            yield at(None, f"meta 'keys' must say how {key!r} is named aloud")

    texts = {
        pid: flow.catalogue.text(pid, lang) for pid in used_prompts(flow) if flow.catalogue.has(pid, lang)
    }
    heard = [(pid, code) for pid, code in opening(flow, lang, everyone) if code == lang and pid in texts]
    # Keys as written, not the numbers read out ("9 9 9" does not announce the key 9).
    said = normalise(
        " ".join(re.sub(r"\{[A-Za-z0-9_]+\}", " ", flow.catalogue.raw(p, lang)) for p, _ in heard)
    )
    for key in flow.global_keys:
        words = [key] if key.isdigit() else [str(names.get(key, ""))]
        if not any(w and says_phrase(said, w) for w in words):
            yield at(None, f"the key {key!r} ({words[0]}) is never announced before the first menu")

    spoken = flow.catalogue.spoken
    for pid in texts:
        raw = flow.catalogue.raw(pid, lang)
        if RAW_DIGITS.search(re.sub(r"\{[A-Za-z0-9_]+\}", "", raw)):
            yield at(
                pid, f"prompt {pid!r} writes a number in digits: use its {{contact}} so it is read in groups"
            )
        for name in set(placeholders(raw)):
            digits = re.sub(r"\D", "", spoken.get(name, ""))
            if len(digits) >= NOTE_DIGITS and placeholders(raw).count(name) < 2:
                yield at(pid, f"prompt {pid!r} reads {{{name}}} once: a number must be read twice")

    if flow.catalogue.has(flow.emergency_prompt, lang):
        advice = texts.get(flow.emergency_prompt) or flow.catalogue.text(flow.emergency_prompt, lang)
        if "999" not in re.sub(r"\D", "", advice):
            yield at(flow.emergency_prompt, f"the 999 advice {flow.emergency_prompt!r} does not say 999")
    if lang != flow.default_language and all(
        flow.catalogue.has(p, c) for p, c in opening(flow, lang, everyone)
    ):
        own = seconds_to_999(flow, lang, everyone)
        if own is None:
            yield at(None, "the 999 advice is never heard in this language before the first menu")
        elif own > flow.limits.own_999_seconds:
            yield at(
                None,
                f"the 999 advice ends {own:.0f} s into the call in this language; "
                f"it must end within {flow.limits.own_999_seconds} s",
            )

    options = {o.say for n in flow.nodes.values() if n.kind != "language" for o in n.options}
    choices = {
        (o.say, o.key)
        for n in flow.nodes.values()
        if n.kind == "language"
        for o in n.options
        if o.lang == lang
    }
    for pid, key in choices:
        if pid in texts and not re.search(rf"(?<!\d){re.escape(key)}(?!\d)", texts[pid]):
            yield at(pid, f"the language menu choice {pid!r} does not say its key {key}")
    for pid in texts:
        length = seconds(flow, pid, lang)
        budget = flow.limits.option_seconds if pid in options else flow.limits.prompt_seconds
        if length > budget:
            yield at(pid, f"prompt {pid!r} lasts about {length:.0f} s; its budget is {budget} s")


def measured_problems(flow: Flow, durations: Durations) -> list[Problem]:
    """Return the prompts whose fresh audio runs over their budget (the text estimate may not)."""
    found = []
    options = {o.say for n in flow.nodes.values() if n.kind != "language" for o in n.options}
    for lang in declared_languages(flow):
        language = flow.catalogue.languages[lang]
        for pid in used_prompts(flow):
            length = durations(pid, lang)
            budget = flow.limits.option_seconds if pid in options else flow.limits.prompt_seconds
            if length is not None and length > budget:
                found.append(
                    Problem(
                        _display(language.path),
                        language.lines.get(pid),
                        None,
                        f"{lang}: the audio of prompt {pid!r} lasts {length:.1f} s; its budget is {budget} s",
                    )
                )
    return found


def _until(
    flow: Flow, heard: list[tuple[str, str]], index: int | None, durations: Durations | None
) -> float | None:
    if index is None:
        return None
    return sum(seconds(flow, pid, code, durations) for pid, code in heard[: index + 1])


def _advice_end(flow: Flow, heard: list[tuple[str, str]], lang: str) -> int | None:
    """Return the index of the last prompt of the 999 advice in a language (the Silent Solution too)."""
    start = next((i for i, (p, c) in enumerate(heard) if p == flow.emergency_prompt and c == lang), None)
    if start is None:
        return None
    end = start
    while end + 1 < len(heard) and heard[end + 1][1] == lang:
        pid, code = heard[end + 1]
        if not flow.catalogue.has(pid, code) or "999" not in re.sub(
            r"\D", "", flow.catalogue.text(pid, code)
        ):
            break
        end += 1
    return end


def _refuge_offer(flow: Flow, heard: list[tuple[str, str]], lang: str) -> int | None:
    """Return the index of the first prompt in a language that tells how to reach Refuge."""
    keys = [
        k
        for k, g in flow.global_keys.items()
        if g.action == "goto" and g.node and g.node in flow.nodes and flow.nodes[g.node].kind == "transfer"
    ]
    for i, (pid, code) in enumerate(heard):
        if code != lang or not flow.catalogue.has(pid, code):
            continue
        text = flow.catalogue.text(pid, code)
        if any(re.search(rf"(?<!\d){re.escape(k)}(?!\d)", text) for k in keys):
            return i
    return None


def seconds_to_999(
    flow: Flow, lang: str, offered: Collection[str], durations: Durations | None = None
) -> float | None:
    """Return the seconds of speech until the 999 advice has been said in a language, if it is."""
    heard = opening(flow, lang, offered)
    return _until(flow, heard, _advice_end(flow, heard, lang), durations)


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
                first_999=_until(flow, heard, _advice_end(flow, heard, default), durations),
                own_999=_until(flow, heard, _advice_end(flow, heard, lang), durations),
                first_refuge=_until(flow, heard, _refuge_offer(flow, heard, default), durations),
                own_refuge=_until(flow, heard, _refuge_offer(flow, heard, lang), durations),
            )
        )
    return lines
