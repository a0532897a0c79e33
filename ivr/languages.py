"""Languages: which ones callers are offered, the language menu, spoken answers, and speech pace."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from .flow import Flow, Node
from .prompts import Language

# (prompt id, language, slow) -> URL of fresh audio, or None: the same hook as twiml.AudioLookup.
Lookup = Callable[[str, str, bool], "str | None"]
# (prompt id, language) -> seconds of fresh audio, or None when there is none.
Durations = Callable[[str, str], "float | None"]

UNKNOWN_KEY = "?"
DEFAULT_WORDS_PER_SECOND = 2.5
MAX_HINTS = 100
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class Availability:
    """Whether callers are offered a language, and if not, why."""

    lang: str
    offered: bool
    reason: str
    missing: tuple[str, ...] = ()
    unplayable: tuple[str, ...] = ()
    recordings_only: bool = False


def used_prompts(flow: Flow) -> list[str]:
    """Return every prompt id a caller can hear, each once, in flow order."""
    seen: dict[str, None] = {}
    for node in flow.nodes.values():
        for pid in (*node.say, *(o.say for o in node.options), *node.failed_say):
            seen.setdefault(pid, None)
    for pid in (*flow.system_prompts.values(), *flow.safe_say, flow.emergency_prompt):
        seen.setdefault(pid, None)
    return list(seen)


def language_node(flow: Flow) -> Node | None:
    """Return the language menu of the flow, if it has one."""
    return next((n for n in flow.nodes.values() if n.kind == "language"), None)


def declared_languages(flow: Flow) -> list[str]:
    """Return the languages with a voice entry and a catalogue, default first, then the menu's order."""
    node = language_node(flow)
    menu_order = [o.lang for o in node.options] if node else []
    codes = [c for c in flow.voices if c in flow.catalogue.languages]
    return sorted(
        codes,
        key=lambda c: (c != flow.default_language, menu_order.index(c) if c in menu_order else 99, c),
    )


def recordings_only(flow: Flow, lang: str) -> bool:
    """Tell whether a language can only be heard from recordings: no <Say> voice and no gTTS."""
    voice = flow.voices.get(lang)
    return voice is None or (not voice.say_voice and not voice.gtts)


def availability(flow: Flow, lang: str, audio: Lookup | None = None) -> Availability:
    """Decide whether every prompt of a language can be played: its own <Say> voice or fresh audio."""
    voice = flow.voices.get(lang)
    language = flow.catalogue.languages.get(lang)
    only_recordings = recordings_only(flow, lang)
    if voice is None or language is None:
        return Availability(lang, False, "not declared in flow.yaml 'languages' with a catalogue")
    needed = used_prompts(flow)
    missing = tuple(pid for pid in needed if pid not in language.texts)
    if missing:
        return Availability(
            lang,
            False,
            f"{len(missing)} prompt(s) missing, e.g. {missing[0]!r}",
            missing,
            (),
            only_recordings,
        )
    unplayable: tuple[str, ...] = ()
    if not voice.say_voice:
        unplayable = tuple(pid for pid in needed if not (audio and audio(pid, lang, False)))
    if unplayable:
        what = "recordings" if only_recordings else "audio (recordings or gTTS renders)"
        return Availability(
            lang,
            False,
            f"no Twilio <Say> voice configured, and no fresh {what} for {len(unplayable)} of "
            f"{len(needed)} prompts, e.g. {unplayable[0]!r}",
            (),
            unplayable,
            only_recordings,
        )
    how = "<Say> voice " + voice.say_voice if voice.say_voice else "fresh audio for every prompt"
    return Availability(lang, True, f"offered: {how}", (), (), only_recordings)


def offered_languages(flow: Flow, audio: Lookup | None = None) -> tuple[str, ...]:
    """Return the languages callers are offered, default first; the default is always offered."""
    offered = [c for c in declared_languages(flow) if availability(flow, c, audio).offered]
    if flow.default_language not in offered:
        offered.insert(0, flow.default_language)
    return tuple(offered)


def menu_options(node: Node, offered: Collection[str]) -> list[tuple[str, str, str]]:
    """Return (key, language, prompt id) of each offered choice of a language menu, in key order."""
    return [(o.key, o.lang, o.say) for o in node.options if o.lang and o.lang in offered]


def default_choice(flow: Flow, node: Node) -> str:
    """Return where the default language goes from the language menu (pressing nothing)."""
    option = next((o for o in node.options if o.lang == flow.default_language), None)
    return option.goto if option else (node.next or flow.start)


# --- Spoken answers --------------------------------------------------------------------------


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
    if _CJK.search(phrase):
        return phrase.replace(" ", "") in text.replace(" ", "")
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def _words(language: Language | None, section: str) -> dict[str, list[str]]:
    table = language.speech.get(section) if language else None
    if not isinstance(table, dict):
        return {}
    return {str(k): [str(w) for w in (v or [])] for k, v in table.items()}


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


# --- Speech pace and the opening of a call ----------------------------------------------------


def estimate(text: str, language: Language | None) -> float:
    """Estimate seconds of speech: words (or Chinese characters) at the language's calm pace."""
    meta = language.meta if language else {}
    found = meta.get("pace")
    pace: dict[str, Any] = found if isinstance(found, dict) else {}
    per_second = float(pace.get("per_second", DEFAULT_WORDS_PER_SECOND))
    if pace.get("unit") == "character":
        count = len(_CJK.findall(text)) + len(re.findall(r"[^\W\u2e80-\u9fff]+", text))
    else:
        count = len(re.findall(r"\w+", text))
    return count / per_second


def seconds(flow: Flow, pid: str, lang: str, durations: Durations | None = None) -> float:
    """Return a prompt's length: measured from its audio where there is some, else estimated."""
    measured = durations(pid, lang) if durations else None
    if measured is not None:
        return float(measured)
    return estimate(flow.catalogue.text(pid, lang), flow.catalogue.languages.get(lang))


def opening(flow: Flow, lang: str, offered: Collection[str]) -> list[tuple[str, str]]:
    """Return (prompt id, language) of all a caller choosing `lang` hears up to the first menu's options."""
    heard: list[tuple[str, str]] = []
    current = flow.default_language
    nid: str | None = flow.start
    seen: set[str] = set()
    while nid and nid in flow.nodes and nid not in seen:
        seen.add(nid)
        node = flow.nodes[nid]
        if node.kind == "language":
            heard += [(pid, current) for pid in node.say]
            if len([c for c in offered if c != flow.default_language]) == 0:
                nid = default_choice(flow, node)
                continue
            heard += [(pid, code) for _, code, pid in menu_options(node, offered)]
            choice = next((o for o in node.options if o.lang == lang), None)
            current = lang if choice else current
            nid = choice.goto if choice else default_choice(flow, node)
            continue
        heard += [(pid, current) for pid in node.say]
        if not node.next:
            heard += [(o.say, current) for o in node.options]
            break
        nid = node.next
    return heard


def iter_texts(flow: Flow, heard: list[tuple[str, str]]) -> Iterator[tuple[str, str, str]]:
    """Yield (prompt id, language, spoken text) for prompts that exist."""
    for pid, code in heard:
        if flow.catalogue.has(pid, code):
            yield pid, code, flow.catalogue.text(pid, code)
