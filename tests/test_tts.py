"""gTTS driven through its own code (HTTP answered by `responses`), and the real ffmpeg conversion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
import responses

from ivr.audio import sound, tts
from tests.helpers.audio import decode, gtts_mp3, make_voice, mock_google

BRITISH = {"lang": "en", "tld": "co.uk"}


@pytest.fixture(scope="module")
def mp3() -> bytes:
    return gtts_mp3(1.0)


def test_synthesize_asks_the_british_host_for_the_text(mp3: bytes) -> None:
    with responses.RequestsMock() as rsps:
        google = mock_google(rsps, mp3, paced=False)
        audio = tts.synthesize("If you are in danger now, hang up and dial 9 9 9.", BRITISH)
    assert google.hosts == ["translate.google.co.uk"]
    assert google.asked == [("If you are in danger now, hang up and dial 9 9 9.", "en", False)]
    assert audio == mp3


def test_slow_mode_reaches_google_and_long_texts_come_back_whole(mp3: bytes) -> None:
    text = " ".join(["To hear how to report trafficking, press 2."] * 5)
    with responses.RequestsMock() as rsps:
        google = mock_google(rsps, mp3, paced=False)
        audio = tts.synthesize(text, BRITISH, slow=True)
    # gTTS sends at most 100 characters a request; every part is asked slow and all are joined.
    assert len(google.asked) > 1
    assert all(slow for _, _, slow in google.asked)
    assert audio == mp3 * len(google.asked)


@pytest.mark.parametrize(
    ("failure", "transient", "unreachable"),
    [
        (500, True, False),
        (503, True, False),
        (429, True, False),
        (403, False, False),
        (requests.ConnectionError("no route to host"), True, True),
    ],
    ids=["500", "503", "429", "403", "no-network"],
)
def test_failures_say_whether_to_try_again(
    mp3: bytes, failure: object, transient: bool, unreachable: bool
) -> None:
    with responses.RequestsMock() as rsps:
        google = mock_google(rsps, mp3, paced=False)
        google.fail.append(failure)
        with pytest.raises(tts.SpeechError) as caught:
            tts.synthesize("Main menu.", BRITISH)
    assert caught.value.transient is transient
    assert caught.value.unreachable is unreachable
    assert "translate.google.co.uk" in str(caught.value)


def test_conversion_gives_mulaw_8k_mono_trimmed(tmp_path: Path) -> None:
    source = make_voice(tmp_path / "take.wav", seconds=2.0, lead=1.0, tail=1.5)
    found = sound.measure(source, 120)
    target = tmp_path / "out.wav"
    sound.to_telephony(source, target, found)
    info = sound.wav_info(target)
    assert (info.format_tag, info.channels, info.rate, info.bits) == (sound.WAV_MULAW, 1, 8000, 8)
    decoded = decode(target)
    assert (decoded.codec, decoded.rate, decoded.channels) == ("pcm_mulaw", 8000, 1)
    # 2 s of sound; 2.5 s of silence trimmed to a short lead-in and lead-out.
    assert 2.0 <= decoded.seconds <= 2.0 + 2 * sound.KEEP_SILENCE + 0.1
    assert abs(info.seconds - decoded.seconds) < 0.05


@pytest.mark.parametrize("amp", [0.03, 0.2, 0.95], ids=["quiet", "medium", "loud"])
def test_loudness_is_normalised(tmp_path: Path, amp: float) -> None:
    source = make_voice(tmp_path / "take.mp3", seconds=4.0, amp=amp)
    before = decode(source).lufs
    target = tmp_path / "out.wav"
    sound.to_telephony(source, target, sound.measure(source, 120))
    after = decode(target).lufs
    assert abs(after - sound.TARGET_LUFS) < 1.5, (before, after)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    source = make_voice(tmp_path / "take.ogg")
    found = sound.measure(source, 120)
    sound.to_telephony(source, tmp_path / "a.wav", found)
    sound.to_telephony(source, tmp_path / "b.wav", found)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_not_audio_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "take.wav"
    junk.write_bytes(b"RIFF but not really a sound file" * 20)
    with pytest.raises(sound.ConversionError, match="cannot be decoded"):
        sound.measure(junk, 120)


def test_wav_info_refuses_other_files(tmp_path: Path) -> None:
    other = make_voice(tmp_path / "take.mp3")
    with pytest.raises(sound.ConversionError, match="not a WAV"):
        sound.wav_info(other)


@pytest.mark.net
@pytest.mark.skipif(os.environ.get("IVR_TEST_NET") != "1", reason="needs the real internet (IVR_TEST_NET=1)")
def test_real_gtts_renders_a_prompt(tmp_path: Path) -> None:
    source = tmp_path / "gtts.mp3"
    source.write_bytes(tts.synthesize("To go back to the main menu, press 2.", BRITISH))
    target = tmp_path / "out.wav"
    sound.to_telephony(source, target, sound.measure(source, 120))
    assert 1.0 < decode(target).seconds < 6.0
