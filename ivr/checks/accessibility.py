"""The accessibility rules, for every language: the language menu, keys announced, numbers read in
groups and twice, the 999 advice early in the caller's own language, a speech budget per prompt, and
short sentences."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator
from typing import Any

from ..flow import Flow, Problem, display
from ..flow.catalogue import placeholders, sentence_limit
from ..flow.queries import (
    CJK,
    declared_languages,
    heard_prompts,
    language_node,
    opening,
    option_prompts,
    says_999,
    seconds,
    seconds_to_999,
)
from ..flow.speech import normalise, says_phrase
from .rules import rule

MAX_LANGUAGES = 8  # keys 1..8 (9 is the slow key, 0 Refuge)
NOTE_DIGITS = 5  # a number this long is one to write down: it must be read twice
RAW_DIGITS = re.compile(r"\d{3,}")
# Where a sentence ends: . ! ? ; and each script's own (Chinese 。！？；, Arabic ؟ ؛ ۔, Ethiopic ። ፧ ፤).
SENTENCE_END = re.compile(r"[.!?;\u3002\uff01\uff1f\uff1b\u061f\u061b\u06d4\u1362\u1367\u1364]")
SHOWN_CHARS = 40  # how much of a long sentence a problem quotes


@rule
def language_menu(flow: Flow) -> Iterator[Problem]:
    """One language menu, at most eight languages, each declared once, the default among them."""
    fname = display(flow.path)
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


@rule
def every_language(flow: Flow) -> Iterator[Problem]:
    """Each declared language is accessible on its own terms."""
    everyone = declared_languages(flow)
    for lang in everyone:
        yield from _language_problems(flow, lang, everyone)


def _language_problems(flow: Flow, lang: str, everyone: Collection[str]) -> Iterator[Problem]:
    language = flow.catalogue.languages[lang]
    lfile = display(language.path)

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
        pid: flow.catalogue.text(pid, lang) for pid in heard_prompts(flow) if flow.catalogue.has(pid, lang)
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
        if not says_999(advice):
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

    options = option_prompts(flow)
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


@rule
def plain_sentences(flow: Flow) -> Iterator[Problem]:
    """No sentence a caller hears is longer than its language's `meta: sentence` limit."""
    heard = heard_prompts(flow)
    for lang in declared_languages(flow):
        language = flow.catalogue.languages[lang]
        most, unit = sentence_limit(language)
        for pid in heard:
            if not flow.catalogue.has(pid, lang):
                continue
            for sentence, length in sentence_lengths(flow.catalogue.raw(pid, lang), unit):
                if length > most:
                    yield Problem(
                        display(language.path),
                        language.lines.get(pid),
                        None,
                        f"{lang}: prompt {pid!r} has a sentence of {length} {unit}s; at most {most} "
                        f'("{_opening(sentence)}")',
                    )


def sentence_lengths(text: str, unit: str) -> list[tuple[str, int]]:
    """Split a text as written into sentences; return each with its length in words or characters.

    A `{placeholder}` is one word (a phone number is one thing to hold in mind, not eleven);
    characters count each Chinese character (not punctuation) and each run of other letters or digits
    as one.
    Vowel marks and accents (Arabic harakat, a decomposed Vietnamese tone) never split a word.
    """
    found: list[tuple[str, int]] = []
    for part in SENTENCE_END.split(text):
        sentence = " ".join(part.split())
        letters = _without_marks(sentence)
        if unit == "character":
            chinese = [c for c in CJK.findall(letters) if c.isalnum()]  # not the marks 、 and 「」
            length = len(chinese) + len(re.findall(r"\w+", CJK.sub(" ", letters)))
        else:
            length = len(re.findall(r"\w+", letters))
        if length:
            found.append((sentence, length))
    return found


def _without_marks(text: str) -> str:
    """Return a text without its combining marks (each distinct character is looked up once)."""
    if text.isascii():
        return text
    marks = {ord(c): None for c in set(text) if unicodedata.category(c)[0] == "M"}
    return text.translate(marks) if marks else text


def _opening(sentence: str) -> str:
    """Return the start of a sentence, enough to find it by: at most SHOWN_CHARS characters."""
    if len(sentence) <= SHOWN_CHARS:
        return sentence
    cut = sentence[:SHOWN_CHARS]
    if " " in cut[SHOWN_CHARS // 2 :]:  # end on a whole word where the script has spaces
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",:、，") + " ..."
