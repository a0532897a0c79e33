"""Which languages callers are offered, and why a language is not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .model import Flow
from .queries import declared_languages, heard_prompts

# (prompt id, language, slow) -> something true (a URL, a file name) when fresh audio exists.
Lookup = Callable[[str, str, bool], "str | None"]


@dataclass(frozen=True)
class Availability:
    """Whether callers are offered a language, and if not, why."""

    lang: str
    offered: bool
    reason: str
    missing: tuple[str, ...] = ()
    unplayable: tuple[str, ...] = ()
    recordings_only: bool = False


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
    needed = heard_prompts(flow)
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
