"""The questions every part asks of a flow, each answered once.

Which prompts a caller can hear and where; which languages there are and in what order; how
long a text lasts at its language's pace; whether a text gives the 999 advice; what a caller
hears before the first menu. Checks, the line, audio, the console and the CLI all ask here,
so that they cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from .catalogue import Language
from .model import Flow, Node

# (prompt id, language) -> seconds of fresh audio, or None when there is none.
Durations = Callable[[str, str], "float | None"]

EMERGENCY_DIGITS = "999"
DEFAULT_PER_SECOND = 2.5  # a calm telephone pace: about 150 words a minute
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
SYSTEM_PLACES = {
    "invalid": "any menu, after a wrong key",
    "silence": "any menu, after a silence",
    "silence_last": "any menu, before the last silence ends the call",
}


@dataclass(frozen=True)
class Use:
    """One place a caller hears a prompt: a node (or none, for prompts heard anywhere) and how."""

    prompt_id: str
    node: str | None
    line: int | None
    where: str
    option: bool = False  # a menu option (its own, shorter speech budget)


def prompt_uses(flow: Flow) -> list[Use]:
    """Return every place a caller can hear a prompt, in flow order."""
    uses: list[Use] = []
    for node in flow.nodes.values():
        uses += [Use(pid, node.id, node.line, f"{node.id} ({node.kind})") for pid in node.say]
        for option in node.options:
            uses.append(
                Use(
                    option.say,
                    node.id,
                    option.line,
                    f"{node.id}: option {option.key}",
                    option=node.kind != "language",
                )
            )
        uses += [
            Use(pid, node.id, node.line, f"{node.id}: when the transfer is not answered")
            for pid in node.failed_say
        ]
    for name, pid in flow.system_prompts.items():
        uses.append(Use(pid, None, None, SYSTEM_PLACES.get(name, f"system prompt {name}")))
    uses += [Use(pid, None, None, "the safe answer, when anything goes wrong") for pid in flow.safe_say]
    if flow.emergency_prompt:
        uses.append(Use(flow.emergency_prompt, None, None, "the 999 advice"))
    return uses


def heard_prompts(flow: Flow) -> list[str]:
    """Return every prompt id a caller can hear, each once, in flow order."""
    return list(dict.fromkeys(use.prompt_id for use in prompt_uses(flow)))


def places(flow: Flow) -> dict[str, list[str]]:
    """Return, for each prompt id, the places in the flow where a caller hears it."""
    found: dict[str, list[str]] = {}
    for use in prompt_uses(flow):
        where = found.setdefault(use.prompt_id, [])
        if use.where not in where:
            where.append(use.where)
    return found


def option_prompts(flow: Flow) -> set[str]:
    """Return the prompts read as menu options (language choices aside): they have their own budget."""
    return {use.prompt_id for use in prompt_uses(flow) if use.option}


def prompt_order(flow: Flow, lang: str) -> list[str]:
    """Return a language's prompt ids: those a caller hears in flow order, then unused ones sorted."""
    texts = flow.catalogue.languages[lang].texts
    used = [pid for pid in heard_prompts(flow) if pid in texts]
    return used + sorted(pid for pid in texts if pid not in used)


def language_node(flow: Flow) -> Node | None:
    """Return the language menu of the flow, if it has one."""
    return next((n for n in flow.nodes.values() if n.kind == "language"), None)


def language_order(flow: Flow, codes: Iterable[str]) -> list[str]:
    """Order language codes as callers meet them: the default, then the language menu's keys."""
    node = language_node(flow)
    menu = [o.lang for o in node.options] if node else []
    return sorted(
        codes, key=lambda c: (c != flow.default_language, menu.index(c) if c in menu else len(menu), c)
    )


def declared_languages(flow: Flow) -> list[str]:
    """Return the languages with both a voice entry in flow.yaml and a catalogue, in caller order."""
    return language_order(flow, (c for c in flow.voices if c in flow.catalogue.languages))


def catalogue_languages(flow: Flow) -> list[str]:
    """Return every language with a catalogue (declared or not), in caller order."""
    return language_order(flow, flow.catalogue.languages)


def says_999(text: str) -> bool:
    """Tell whether a spoken text gives the 999 advice: it says 9 9 9, however it is written."""
    return EMERGENCY_DIGITS in re.sub(r"\D", "", text)


def pace(language: Language | None) -> tuple[float, str]:
    """Return a language's calm pace: units a second, and whether the unit is a word or a character."""
    found = language.meta.get("pace") if language else None
    table: dict[str, Any] = found if isinstance(found, dict) else {}
    per_second = table.get("per_second", DEFAULT_PER_SECOND)
    if isinstance(per_second, bool) or not isinstance(per_second, int | float) or per_second <= 0:
        per_second = DEFAULT_PER_SECOND
    unit = "character" if table.get("unit") == "character" else "word"
    return float(per_second), unit


def speech_seconds(text: str, language: Language | None) -> float:
    """Estimate seconds of speech: words (or Chinese characters) at the language's calm pace."""
    per_second, unit = pace(language)
    if unit == "character":
        count = len(CJK.findall(text)) + len(re.findall(r"[^\W\u2e80-\u9fff]+", text))
    else:
        count = len(re.findall(r"\w+", text))
    return count / per_second


def seconds(flow: Flow, pid: str, lang: str, durations: Durations | None = None) -> float:
    """Return a prompt's length: measured from its audio where there is some, else estimated."""
    measured = durations(pid, lang) if durations else None
    if measured is not None:
        return float(measured)
    return speech_seconds(flow.catalogue.text(pid, lang), flow.catalogue.languages.get(lang))


def menu_options(node: Node, offered: Collection[str]) -> list[tuple[str, str, str]]:
    """Return (key, language, prompt id) of each offered choice of a language menu, in key order."""
    return [(o.key, o.lang, o.say) for o in node.options if o.lang and o.lang in offered]


def default_choice(flow: Flow, node: Node) -> str:
    """Return where the default language goes from the language menu (pressing nothing)."""
    option = next((o for o in node.options if o.lang == flow.default_language), None)
    return option.goto if option else (node.next or flow.start)


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


def advice_end(flow: Flow, heard: list[tuple[str, str]], lang: str) -> int | None:
    """Return the index of the last prompt of the 999 advice in a language (the Silent Solution too)."""
    start = next((i for i, (p, c) in enumerate(heard) if p == flow.emergency_prompt and c == lang), None)
    if start is None:
        return None
    end = start
    while end + 1 < len(heard) and heard[end + 1][1] == lang:
        pid, code = heard[end + 1]
        if not flow.catalogue.has(pid, code) or not says_999(flow.catalogue.text(pid, code)):
            break
        end += 1
    return end


def refuge_offer(flow: Flow, heard: list[tuple[str, str]], lang: str) -> int | None:
    """Return the index of the first prompt in a language that tells the key to reach a person."""
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


def seconds_until(
    flow: Flow, heard: list[tuple[str, str]], index: int | None, durations: Durations | None = None
) -> float | None:
    """Return the seconds of speech up to and including heard[index], or None for never."""
    if index is None:
        return None
    return sum(seconds(flow, pid, code, durations) for pid, code in heard[: index + 1])


def seconds_to_999(
    flow: Flow, lang: str, offered: Collection[str], durations: Durations | None = None
) -> float | None:
    """Return the seconds of speech until the 999 advice has been said in a language, if it is."""
    heard = opening(flow, lang, offered)
    return seconds_until(flow, heard, advice_end(flow, heard, lang), durations)
