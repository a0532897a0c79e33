"""Does a recording say its text? Real speech made by espeak-ng, converted as the library converts
every recording, named by PocketSphinx among the English prompts (issue 12, point 3)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.audio import recognise
from ivr.audio.library import AudioLibrary
from ivr.audio.recognise import MISMATCH, OK, UNCLEAR, UNSUPPORTED, check, identify
from ivr.flow import parse
from tests.helpers.audio import ffmpeg
from tests.helpers.parts import missing
from tests.helpers.twilio import ROOT

LANG = "en-GB"
# Prompts spoken by espeak-ng; each recording is named right or, at worst, unclear: never wrong.
OTHERS = ("refuge_number", "goodbye", "opt_danger", "transfer_failed")
SPOKEN = ("advice_999", "welcome", *OTHERS)
NO_PROMPT = "The weather in Derby will be cold and wet tomorrow, with rain later."
CRITICAL = ("advice_999", "refuge_number", "offer_refuge", "transfer_refuge", "transfer_failed")


def speak(text: str, target: Path) -> Path:
    """Make espeak-ng say a text, in British English at a calm pace, into a WAV file."""
    subprocess.run(
        ["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(target), text], check=True, capture_output=True
    )
    return target


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Spoken prompts (and one sentence that is no prompt), each the telephony file the library makes."""
    if shutil.which("espeak-ng") is None:
        missing("espeak-ng is not installed (apt-get install espeak-ng): no real speech to recognise")
    flow, problems = parse(ROOT / "prompts")
    assert flow is not None, problems
    folder = tmp_path_factory.mktemp("speech")
    library = AudioLibrary(folder / "audio")
    texts = {pid: flow.catalogue.text(pid, LANG) for pid in SPOKEN}
    made: dict[str, Path] = {}
    for name, text in {**texts, "no_prompt": NO_PROMPT}.items():
        made[name] = folder / f"{name}.wav"
        library.convert(speak(text, folder / f"{name}.source.wav"), made[name])
    return made


@pytest.fixture(scope="module")
def matches(recordings: dict[str, Path]) -> dict[str, recognise.Match]:
    """What each recording is heard as, decoded once for the module (against the shipped texts)."""
    flow, problems = parse(ROOT / "prompts")
    assert flow is not None, problems
    return {name: identify(flow, LANG, path) for name, path in recordings.items()}


def test_the_999_advice_is_named_as_the_999_advice(
    flow, recordings: dict[str, Path], matches: dict[str, recognise.Match]
) -> None:
    found = matches["advice_999"]
    assert found.supported
    assert found.prompt_id == "advice_999", found
    assert found.confident, found
    assert found.heard == "if you are in danger now hang up and dial nine nine nine"
    assert check(flow, LANG, "advice_999", recordings["advice_999"]).outcome == OK


def test_the_welcome_offered_as_the_999_advice_is_a_mismatch_naming_it(
    flow, recordings: dict[str, Path]
) -> None:
    verdict = check(flow, LANG, "advice_999", recordings["welcome"])
    assert verdict.outcome == MISMATCH, verdict
    assert not verdict.ok
    assert verdict.other == "welcome"
    assert verdict.heard == recognise.spoken_texts(flow, LANG)["welcome"]
    assert "'welcome'" in verdict.reason


@pytest.mark.parametrize("prompt_id", OTHERS)
def test_a_prompt_is_named_right_or_unclear_never_wrong(
    matches: dict[str, recognise.Match], prompt_id: str
) -> None:
    found = matches[prompt_id]
    assert not (found.confident and prompt_id not in found.prompt_ids), found


def test_most_prompts_are_named_right(matches: dict[str, recognise.Match]) -> None:
    right = [pid for pid in OTHERS if matches[pid].confident and pid in matches[pid].prompt_ids]
    assert len(right) >= len(OTHERS) - 1, right  # espeak-ng at 8 kHz: all four today


def test_a_recording_of_a_prompt_checks_ok(flow, recordings: dict[str, Path]) -> None:
    verdict = check(flow, LANG, "goodbye", recordings["goodbye"])
    assert (verdict.outcome, verdict.other, verdict.reason) == (OK, None, "")
    assert verdict.ok


@pytest.mark.parametrize("claimed", CRITICAL)
def test_no_recording_passes_for_a_safety_critical_prompt_it_does_not_say(
    matches: dict[str, recognise.Match], claimed: str
) -> None:
    for said, found in matches.items():
        if said != claimed:
            assert not (found.confident and claimed in found.prompt_ids), (said, found)


def test_speech_that_is_no_prompt_is_unclear(flow, recordings: dict[str, Path]) -> None:
    verdict = check(flow, LANG, "advice_999", recordings["no_prompt"])
    assert verdict.outcome == UNCLEAR, verdict
    assert verdict.reason


@pytest.mark.parametrize(
    "source",
    [
        "anullsrc=r=8000:cl=mono",
        "anoisesrc=c=pink:a=0.3:r=8000:seed=7",
        "anoisesrc=c=white:a=0.05:r=8000:seed=7",
    ],
    ids=["silence", "pink-noise", "quiet-white-noise"],
)
def test_silence_and_noise_are_unclear(flow, tmp_path: Path, source: str) -> None:
    path = tmp_path / "sound.wav"
    ffmpeg("-f", "lavfi", "-t", "3", "-i", source, "-c:a", "pcm_mulaw", "-y", str(path))
    verdict = check(flow, LANG, "advice_999", path)
    assert verdict.outcome == UNCLEAR, verdict
    assert verdict.reason


def test_silence_is_heard_as_no_speech(flow, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-t", "2", "-i", "anullsrc=r=8000:cl=mono", "-c:a", "pcm_mulaw", "-y", str(path))
    found = identify(flow, LANG, path)
    assert (found.prompt_id, found.heard, found.reason) == (None, "", "no speech was heard")


def test_other_languages_are_not_supported(flow, tmp_path: Path) -> None:
    for lang in ("pl", "ar", "zh-CN"):
        found = identify(flow, lang, tmp_path / "never-read.wav")
        assert (found.supported, found.confident, found.prompt_id) == (False, False, None)
        verdict = check(flow, lang, "advice_999", tmp_path / "never-read.wav")
        assert verdict.outcome == UNSUPPORTED and not verdict.ok
    assert recognise.supported("en-GB") and recognise.supported("en")


def test_audio_longer_than_a_minute_is_not_decoded(flow, tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    tone = "sine=frequency=300:sample_rate=8000"
    ffmpeg("-f", "lavfi", "-t", "61", "-i", tone, "-c:a", "pcm_mulaw", "-y", str(path))
    found = identify(flow, LANG, path)
    assert (found.prompt_id, found.heard, found.confident) == (None, "", False)
    assert "60 seconds" in found.reason


def test_a_file_that_is_not_audio_is_unclear(flow, tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not a sound at all")
    verdict = check(flow, LANG, "advice_999", path)
    assert verdict.outcome == UNCLEAR
    assert "cannot be decoded" in verdict.reason


def test_a_prompt_without_a_text_cannot_be_checked(flow, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no_such_prompt"):
        check(flow, LANG, "no_such_prompt", tmp_path / "x.wav")


@pytest.mark.parametrize(
    ("prompt_id", "critical"),
    [
        ("advice_999", True),  # the 999 advice
        ("refuge_number", True),  # the safe answer
        ("offer_refuge", True),
        ("transfer_refuge", True),  # the transfer that key 0 makes, and its fallback
        ("transfer_failed", True),
        ("welcome", False),
        ("goodbye", False),
        ("opt_danger", False),
    ],
)
def test_safety_critical_prompts_must_match(flow, prompt_id: str, critical: bool) -> None:
    assert recognise.safety_critical_needs_match(flow, prompt_id) is critical


def test_texts_become_words_the_dictionary_knows(flow) -> None:
    known = recognise._lexicon()
    said = recognise.words("Refuge's helpline is open 24 hours: call 0 8 0 8, or 101 — Crimestoppers.", known)
    assert said == [
        "refuge's",
        "help",
        "line",
        "is",
        "open",
        "twenty",
        "four",
        "hours",
        "call",
        "zero",
        "eight",
        "zero",
        "eight",
        "or",
        "one",
        "hundred",
        "and",
        "one",
        "crimes",
        "toppers",
    ]
    assert recognise.words("Zxqvb magistrates' court", known) == ["magistrates", "court"]  # unknown: dropped
    assert recognise.number_words("2000") == ["two", "thousand"]
    assert recognise.number_words("0808") == ["zero", "eight", "zero", "eight"]
    texts = recognise.spoken_texts(flow, LANG)
    assert texts["advice_999"] == "if you are in danger now hang up and dial nine nine nine"
    assert set(texts) == set(flow.catalogue.languages[LANG].texts)


def test_the_decoder_is_built_once_for_a_set_of_texts(
    flow, recordings: dict[str, Path], matches: dict[str, recognise.Match]
) -> None:
    built = recognise._recogniser.cache_info().misses  # the module's recordings were heard already
    found = identify(flow, LANG, recordings["advice_999"])  # an app's copy of the same texts
    assert recognise._recogniser.cache_info().misses == built
    assert found == matches["advice_999"]  # and the same decoder hears the same
