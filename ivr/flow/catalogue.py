"""The prompt catalogue: each language's texts by prompt id, and how numbers are read."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlfile

PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
REVIEW_STATES = ("draft", "reviewed", "approved")


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
    meta: Mapping[str, Any] = field(default_factory=dict)  # key names, pace (see ivr.flow.queries)
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
    try:
        data, _ = yamlfile.load(path)
    except yamlfile.YamlError as exc:
        return None, [(exc.line, exc.reason)]
    if not isinstance(data, dict):
        return None, [(1, "a catalogue must be a mapping with 'meta' and 'prompts'")]
    meta = data.get("meta") or {}
    texts = data.get("prompts")
    if not isinstance(meta, dict):
        problems.append((_line(data, "meta"), "'meta' must be a mapping"))
        meta = {}
    if not isinstance(texts, dict):
        return None, [*problems, (_line(data, "prompts"), "'prompts' must map prompt ids to texts")]
    clean: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key, value in texts.items():
        line = texts.line_of(key) if isinstance(texts, yamlfile.LineDict) else None
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            problems.append((line, f"prompt id {key!r} must be snake_case"))
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append((line, f"prompt {key!r} has no text"))
            continue
        clean[key] = value
        if line:
            lines[key] = line
    review = str(meta.get("review", "draft"))
    if review not in REVIEW_STATES:
        problems.append(
            (_line(meta, "review"), f"review state {review!r} is not one of {', '.join(REVIEW_STATES)}")
        )
    pattern = str(meta.get("option_pattern", ""))
    if pattern:
        try:
            re.compile(pattern.replace("{key}", "0"))
        except re.error as exc:
            problems.append((_line(meta, "option_pattern"), f"option_pattern is not a valid pattern: {exc}"))
            pattern = ""
    language = Language(
        code=path.stem,
        name=str(meta.get("name", path.stem)),
        native_name=str(meta.get("native_name", meta.get("name", path.stem))),
        review=review,
        option_pattern=pattern,
        texts=clean,
        path=path,
        lines=lines,
        meta=dict(meta),
        speech=dict(data.get("speech") or {}) if isinstance(data.get("speech"), dict) else {},
    )
    return language, problems


def _line(mapping: object, key: str) -> int | None:
    return mapping.line_of(key) if isinstance(mapping, yamlfile.LineDict) else None
