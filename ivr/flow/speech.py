"""Spoken answers: what a caller's words at a menu stand for, and the hints Twilio listens with."""

from __future__ import annotations

import re
from collections.abc import Collection

from .catalogue import Language
from .model import Flow, Node
from .queries import CJK, menu_options

UNKNOWN_KEY = "?"
MAX_HINTS = 100
_PUNCTUATION = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    """Lower-case a transcript and drop its punctuation, so that words compare plainly."""
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def says_phrase(text: str, phrase: str) -> bool:
    """Tell whether a normalised transcript contains a phrase as whole words (any run, for Chinese)."""
    phrase = normalise(phrase)
    if not phrase:
        return False
    if phrase.isdigit():  # a key: not part of a longer number, whatever letters touch it ("请按0")
        return re.search(rf"(?<!\d){phrase}(?!\d)", text) is not None
    if CJK.search(phrase):
        return phrase.replace(" ", "") in text.replace(" ", "")
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def _words(language: Language | None, section: str) -> dict[str, list[str]]:
    table = language.speech.get(section) if language else None
    if not isinstance(table, dict):
        return {}
    return {str(k): [str(w) for w in v] for k, v in table.items() if isinstance(v, list)}


def _list(language: Language | None, section: str) -> list[str]:
    value = language.speech.get(section) if language else None
    return [str(w) for w in value] if isinstance(value, list) else []


def language_words(language: Language) -> list[str]:
    """Return the words that name a language at the language menu: its own, and English."""
    words = [language.native_name, language.name, *_list(language, "language")]
    return list(dict.fromkeys(w for w in words if w))


def speech_key(
    flow: Flow, node: Node, lang: str, transcript: str, confidence: float, offered: Collection[str]
) -> str:
    """Map a spoken answer to the key it stands for; '?' (an unknown key) if unsure or unclear."""
    if confidence * 100 < flow.limits.speech_confidence:
        return UNKNOWN_KEY
    text = normalise(transcript)
    if not text:
        return UNKNOWN_KEY
    language = flow.catalogue.languages.get(lang)
    found: set[str] = set()
    if node.kind == "language":
        for key, code, _ in menu_options(node, offered):
            if any(says_phrase(text, w) for w in language_words(flow.catalogue.languages[code])):
                found.add(key)
    else:
        routes = _words(language, "routes")
        for option in node.options:
            if any(says_phrase(text, w) for w in routes.get(option.goto, [])):
                found.add(option.key)
    if not found:
        keys = {o.key for o in node.options} | set(flow.global_keys)
        numbers = _list(language, "numbers")
        for digit in map(str, range(10)):
            spoken = [digit] + ([numbers[int(digit)]] if int(digit) < len(numbers) else [])
            # A number counts only as the whole answer: "一" is also inside "再听一遍" (hear it again).
            if digit in keys and any(text == normalise(w) for w in spoken):
                found.add(digit)
    if not found:
        for key, words in _words(language, "keys").items():
            if key in flow.global_keys and any(says_phrase(text, w) for w in words):
                found.add(key)
    return found.pop() if len(found) == 1 else UNKNOWN_KEY


def hints(flow: Flow, node: Node, lang: str, offered: Collection[str]) -> str:
    """Return Twilio's speech hints for a menu: its options' words, then the keys' words."""
    language = flow.catalogue.languages.get(lang)
    phrases: list[str] = []
    if node.kind == "language":
        for _, code, _ in menu_options(node, offered):
            phrases += language_words(flow.catalogue.languages[code])
    else:
        routes = _words(language, "routes")
        for option in node.options:
            phrases += routes.get(option.goto, [])
    for key, words in _words(language, "keys").items():
        if key in flow.global_keys:
            phrases += words
    clean = [p.replace(",", " ").strip() for p in phrases]
    return ", ".join(list(dict.fromkeys(p for p in clean if p))[:MAX_HINTS])


def speech_language(flow: Flow, node: Node, lang: str) -> str | None:
    """Return the recognition language for a menu's spoken answers, or None for keypad only."""
    if node.kind not in ("menu", "message", "language") or not node.options:
        return None
    voice = flow.voices.get(lang)
    return voice.speech_language if voice else None
