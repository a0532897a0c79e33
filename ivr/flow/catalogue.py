"""The prompt catalogue: each language's texts by prompt id, and how numbers are read."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fields, yamlfile
from .fields import kind_of
from .yamlfile import LineDict

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
REVIEW_STATES = ("draft", "reviewed", "approved")
CATALOGUE_FIELDS = ("meta", "prompts", "speech")
META_FIELDS = (
    "name",
    "native_name",
    "review",
    "option_pattern",
    "keys",
    "pace",
    "sentence",
    "recordings_only",
)
PACE_FIELDS = ("unit", "per_second")
PACE_UNITS = ("word", "character")
MAX_PER_SECOND = 20
SENTENCE_FIELDS = ("unit", "max")
# The longest sentence a caller should have to follow, by unit, when `meta: sentence` does not say.
SENTENCE_MAX = {"word": 25, "character": 40}
MAX_SENTENCE = 200  # a limit beyond this is no limit
SPEECH_FIELDS = ("language", "numbers", "keys", "routes")


@dataclass(frozen=True)
class Language:
    """One catalogue file: a language's prompt texts and its wording rules."""

    code: str
    name: str
    native_name: str
    review: str
    option_pattern: str
    texts: Mapping[str, str]
    path: Path
    lines: Mapping[str, int] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)  # key names, pace (see ivr.flow.queries), sentence
    speech: Mapping[str, Any] = field(default_factory=dict)  # words a caller may say instead of a key


@dataclass(frozen=True)
class Catalogue:
    """Every language's prompts; `spoken` maps contact ids to their published grouping."""

    languages: Mapping[str, Language]
    spoken: Mapping[str, str]

    def raw(self, prompt_id: str, lang: str) -> str:
        """Return a prompt's text as written, placeholders and all."""
        return self.languages[lang].texts[prompt_id]

    def text(self, prompt_id: str, lang: str) -> str:
        """Return a prompt's text as it must be spoken, numbers spelled out."""
        return expand(self.raw(prompt_id, lang), self.spoken)

    def text_hash(self, prompt_id: str, lang: str) -> str:
        """Return a short hash of the spoken text: audio made from it is fresh while it holds."""
        return text_hash(self.text(prompt_id, lang), lang)

    def has(self, prompt_id: str, lang: str) -> bool:
        """Tell whether the language has a text for the prompt."""
        language = self.languages.get(lang)
        return language is not None and prompt_id in language.texts


def text_hash(text: str, lang: str) -> str:
    """Hash the spoken text and its language; the first 16 hex digits are plenty."""
    return hashlib.sha256(f"{lang}\n{text}".encode()).hexdigest()[:16]


def spell_number(spoken: str) -> str:
    """Spell a published number digit by digit, groups apart: '0808 2000 247' -> '0 8 0 8, 2 0 0 0, 2 4 7'."""
    groups = [" ".join(group) for group in spoken.split()]
    return ", ".join(groups)


def expand(text: str, spoken: Mapping[str, str]) -> str:
    """Replace each `{contact}` with its number spelled out; leave unknown names as written."""

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        return spell_number(spoken[name]) if name in spoken else match.group(0)

    return " ".join(PLACEHOLDER.sub(number, text).split())


def placeholders(text: str) -> list[str]:
    """Return the contact ids a text refers to."""
    return PLACEHOLDER.findall(text)


def load_language(path: Path) -> tuple[Language | None, list[tuple[int | None, str]]]:
    """Read one catalogue file; return it (or None) and its problems as (line, reason)."""
    problems: list[tuple[int | None, str]] = []

    def report(line: int | None, reason: str) -> None:
        problems.append((line, reason))

    try:
        data, _ = yamlfile.load(path)
    except yamlfile.YamlError as exc:
        return None, [(exc.line, exc.reason)]
    if not isinstance(data, LineDict):
        return None, [(1, f"a catalogue must be a mapping with 'meta' and 'prompts', not {kind_of(data)}")]
    fields.unknown(data, CATALOGUE_FIELDS, report)
    meta = _meta(fields.mapping(data, "meta", report), report)
    texts = data.get("prompts")
    if not isinstance(texts, LineDict):
        shown = "" if texts is None else f", not {kind_of(texts)}"
        return None, [*problems, (data.line_of("prompts"), f"'prompts' must map prompt ids to texts{shown}")]
    clean: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key, value in texts.items():
        line = texts.line_of(key)
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            report(line, f"prompt id {key!r} must be snake_case")
        elif not isinstance(value, str):
            report(line, f"prompt {key!r} must be a text, not {kind_of(value)}")
        elif not value.strip():
            report(line, f"prompt {key!r} has no text")
        else:
            clean[key] = value
            if line:
                lines[key] = line
    name = str(meta.get("name", path.stem))
    language = Language(
        code=path.stem,
        name=name,
        native_name=str(meta.get("native_name", name)),
        review=str(meta.get("review", "draft")),
        option_pattern=str(meta.get("option_pattern", "")),
        texts=clean,
        path=path,
        lines=lines,
        meta=meta,
        speech=_speech(fields.mapping(data, "speech", report), report),
    )
    return language, problems


def _meta(spec: LineDict, report: fields.Report) -> dict[str, Any]:
    """Return the well-formed entries of a catalogue's `meta`; report the rest."""
    where = "meta: "
    fields.unknown(spec, META_FIELDS, report, where)
    meta: dict[str, Any] = {}
    for name in ("name", "native_name"):
        value = fields.text(spec, name, report, "a text", where)
        if value is not None:
            meta[name] = value
    review = fields.text(spec, "review", report, f"one of {', '.join(REVIEW_STATES)}", where)
    if review is not None and review not in REVIEW_STATES:
        report(spec.line_of("review"), f"review state {review!r} is not one of {', '.join(REVIEW_STATES)}")
    elif review is not None:
        meta["review"] = review
    pattern = fields.text(spec, "option_pattern", report, "a pattern in quotes", where)
    if pattern is not None:
        try:
            for key in fields.PHONE_KEYS:  # as the rules use it: with each key an option may have
                re.compile(pattern.replace("{key}", re.escape(key)))
            meta["option_pattern"] = pattern
        except (re.error, OverflowError, RecursionError, ValueError) as exc:
            report(spec.line_of("option_pattern"), f"option_pattern is not a valid pattern: {exc}")
    keys = fields.mapping(spec, "keys", report, where)
    named: dict[str, str] = {}
    for key, value in keys.items():
        if not isinstance(value, str) or not value.strip():
            report(
                keys.line_of(key),
                f"meta: keys: {key!r} must be how the key is named aloud, not {kind_of(value)}",
            )
        else:
            named[str(key)] = value
    if "keys" in spec:
        meta["keys"] = named
    pace = fields.mapping(spec, "pace", report, where)
    fields.unknown(pace, PACE_FIELDS, report, "meta: pace: ")
    if "unit" in pace:
        if pace["unit"] in PACE_UNITS:
            meta.setdefault("pace", {})["unit"] = pace["unit"]
        else:
            shown = repr(pace["unit"]) if isinstance(pace["unit"], str) else kind_of(pace["unit"])
            report(pace.line_of("unit"), f"meta: pace: unit {shown} is not one of {', '.join(PACE_UNITS)}")
    if "per_second" in pace:
        per_second = fields.number(pace["per_second"], 0, MAX_PER_SECOND)
        if per_second is None:
            report(
                pace.line_of("per_second"),
                f"meta: pace: 'per_second' must be the words (or characters) spoken a second, more than 0 "
                f"and at most {MAX_PER_SECOND}, not {kind_of(pace['per_second'])}",
            )
        else:
            meta.setdefault("pace", {})["per_second"] = per_second
    sentence = _sentence(fields.mapping(spec, "sentence", report, where), report)
    if sentence:
        meta["sentence"] = sentence
    recordings = fields.flag(spec, "recordings_only", report, where)
    if recordings is not None:
        meta["recordings_only"] = recordings
    return meta


def _sentence(spec: LineDict, report: fields.Report) -> dict[str, Any]:
    """Return the well-formed parts of `meta: sentence` (the longest sentence allowed); report the rest."""
    fields.unknown(spec, SENTENCE_FIELDS, report, "meta: sentence: ")
    sentence: dict[str, Any] = {}
    if "unit" in spec:
        if spec["unit"] in PACE_UNITS:
            sentence["unit"] = spec["unit"]
        else:
            shown = repr(spec["unit"]) if isinstance(spec["unit"], str) else kind_of(spec["unit"])
            report(
                spec.line_of("unit"), f"meta: sentence: unit {shown} is not one of {', '.join(PACE_UNITS)}"
            )
    if "max" in spec:
        most = spec["max"]
        if isinstance(most, int) and not isinstance(most, bool) and 0 < most <= MAX_SENTENCE:
            sentence["max"] = most
        else:
            report(
                spec.line_of("max"),
                f"meta: sentence: 'max' must be the most words (or characters) a sentence may have, "
                f"a whole number from 1 to {MAX_SENTENCE}, not {kind_of(most)}",
            )
    return sentence


def sentence_limit(language: Language) -> tuple[int, str]:
    """Return the longest sentence a language allows and its unit ('word' or 'character').

    The unit is `meta: sentence: unit`, else the unit of the language's pace, else words; the
    limit is `meta: sentence: max`, else 25 words or 40 characters.
    """
    found = language.meta.get("sentence")
    table: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    paced = language.meta.get("pace")
    pace_unit = paced.get("unit") if isinstance(paced, Mapping) else None
    unit = table.get("unit") or pace_unit
    unit = unit if unit in SENTENCE_MAX else "word"
    most = table.get("max")
    if isinstance(most, bool) or not isinstance(most, int) or most <= 0:
        most = SENTENCE_MAX[unit]
    return most, unit


def _speech(spec: LineDict, report: fields.Report) -> dict[str, Any]:
    """Return the well-formed words of a catalogue's `speech`; report the rest."""
    fields.unknown(spec, SPEECH_FIELDS, report, "speech: ")
    speech: dict[str, Any] = {}
    for name in ("language", "numbers"):
        if name in spec:
            found = fields.words(spec[name], spec.line_of(name), report, f"speech: '{name}'")
            if found is not None:
                speech[name] = found
    for name in ("keys", "routes"):
        table = fields.mapping(spec, name, report, "speech: ")
        entries: dict[str, list[str]] = {}
        for key, value in table.items():
            found = fields.words(value, table.line_of(key), report, f"speech: {name}: {key!r}")
            if found is not None:
                entries[str(key)] = found
        if name in spec:
            speech[name] = entries
    return speech
