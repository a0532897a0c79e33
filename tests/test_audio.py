"""Staff recordings through `ivr prompts import|history|rollback|status`, and the library's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.audio import sound
from ivr.audio.library import MAX_SECONDS, AudioError, AudioLibrary, AudioRejected
from ivr.audio.publishing import publish
from ivr.cli import cli
from tests.helpers.audio import decode, make_silence, make_voice, voice_for
from tests.helpers.prompts import edit_text
from tests.helpers.reload import settled


class Ivr:
    """The `ivr` command, run against the test app as staff run it."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.runner = app.test_cli_runner()

    def invoke(self, args: list[str]):  # type: ignore[no-untyped-def]
        return self.runner.invoke(cli, args)


@pytest.fixture
def runner(app) -> Ivr:
    return Ivr(app)


def manifest(app) -> dict[str, object]:
    return json.loads((Path(app.config["AUDIO_DIR"]) / "manifest.json").read_text())


def audio_files(app) -> list[str]:
    root = Path(app.config["AUDIO_DIR"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.wav")) if root.exists() else []


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a", ".ogg", ".webm"])
def test_import_each_format(app, runner, lib, flow, tmp_path: Path, suffix: str) -> None:
    take = voice_for(tmp_path / "takes" / "en-GB" / f"welcome{suffix}", "welcome", lead=0.7, tail=0.8)
    speech = decode(take).seconds - 0.7 - 0.8
    result = runner.invoke(args=["prompts", "import", str(take)])
    assert result.exit_code == 0, result.output
    assert "as en-GB/welcome" in result.output
    row = lib.prompt(flow, "welcome", "en-GB")
    assert (row.state, row.source, row.original_name) == ("fresh", "recording", take.name)
    stored = Path(app.config["AUDIO_DIR"]) / row.url.removeprefix("/audio/")
    decoded = decode(stored)
    assert (decoded.codec, decoded.rate, decoded.channels) == ("pcm_mulaw", 8000, 1)
    assert speech - 0.5 <= decoded.seconds <= speech + 2 * sound.KEEP_SILENCE + 0.1  # silence trimmed
    assert row.duration == pytest.approx(decoded.seconds, abs=0.05)
    assert abs(decoded.lufs - sound.TARGET_LUFS) < 1.5


def test_file_names_carry_a_content_hash(app, runner, lib, flow, tmp_path: Path) -> None:
    first = voice_for(tmp_path / "a" / "en-GB" / "welcome.wav", "welcome", extra=-0.4)
    second = voice_for(tmp_path / "b" / "en-GB" / "welcome.wav", "welcome")
    assert runner.invoke(args=["prompts", "import", str(first)]).exit_code == 0
    url_one = lib.prompt(flow, "welcome", "en-GB").url
    assert runner.invoke(args=["prompts", "import", str(second)]).exit_code == 0
    url_two = lib.prompt(flow, "welcome", "en-GB").url
    assert url_one != url_two
    for url in (url_one, url_two):
        path = Path(app.config["AUDIO_DIR"]) / url.removeprefix("/audio/")
        import hashlib

        assert path.name.split(".")[1] == hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_folders_import_by_language_and_report_each_file(app, runner, lib, flow, tmp_path: Path) -> None:
    takes = tmp_path / "delivery"
    voice_for(takes / "en-GB" / "welcome.mp3", "welcome")
    voice_for(takes / "en-GB" / "main_menu_intro.m4a", "main_menu_intro")
    (takes / "en-GB" / "notes.txt").write_text("not audio, not a prompt: ignored")
    result = runner.invoke(args=["prompts", "import", str(takes)])
    assert result.exit_code == 0, result.output
    recorded = {r.prompt_id for r in lib.status(flow) if r.source == "recording"}
    assert recorded == {"welcome", "main_menu_intro"}


def _too_long(path: Path) -> Path:
    return make_voice(path, seconds=MAX_SECONDS + 5, lead=0.1, tail=0.1)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_FILES = {
    "empty": (lambda p: _write(p, b""), "empty"),
    "not audio": (lambda p: _write(p, b"<html>this is a web page</html>" * 50), "cannot be decoded"),
    "too long": (_too_long, "more than 120 seconds"),
    "silence": (lambda p: make_silence(p), "no sound"),
    "too quiet": (lambda p: make_voice(p, amp=0.006), "too quiet"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_files_are_rejected_and_change_nothing(app, runner, lib, flow, tmp_path: Path, kind: str) -> None:
    good = voice_for(tmp_path / "good" / "en-GB" / "welcome.wav", "welcome")
    assert runner.invoke(args=["prompts", "import", str(good)]).exit_code == 0
    before = (manifest(app), audio_files(app), lib.prompt(flow, "welcome", "en-GB"))
    make, reason = BAD_FILES[kind]
    (tmp_path / "bad" / "en-GB").mkdir(parents=True)
    bad = make(tmp_path / "bad" / "en-GB" / "welcome.wav")
    result = runner.invoke(args=["prompts", "import", str(bad)])
    assert result.exit_code == 1
    assert reason in result.output
    assert "rejected" in result.output
    assert (manifest(app), audio_files(app), lib.prompt(flow, "welcome", "en-GB")) == before
    with pytest.raises(AudioRejected, match=reason):
        lib.import_recording(flow, "welcome", "en-GB", bad, "welcome.wav")


def test_unknown_prompt_and_missing_language_are_rejected(app, runner, tmp_path: Path) -> None:
    take = make_voice(tmp_path / "en-GB" / "no_such_prompt.wav")
    result = runner.invoke(args=["prompts", "import", str(take)])
    assert result.exit_code == 1
    assert "no prompt 'no_such_prompt'" in result.output
    assert not (Path(app.config["AUDIO_DIR"]) / "manifest.json").exists()
    result = runner.invoke(args=["prompts", "import", "--lang", "xx", str(take)])
    assert result.exit_code == 2
    assert "'xx' is not one of en-GB" in result.output


def test_history_and_rollback(app, runner, lib, flow, tmp_path: Path) -> None:
    first = voice_for(tmp_path / "1" / "en-GB" / "welcome.wav", "welcome", extra=-0.4)
    second = voice_for(tmp_path / "2" / "en-GB" / "welcome.ogg", "welcome")
    assert runner.invoke(args=["prompts", "import", str(first)]).exit_code == 0
    assert runner.invoke(args=["prompts", "import", str(second)]).exit_code == 0
    versions = lib.history(flow, "welcome", "en-GB")
    assert [(v.version, v.current, v.original_name) for v in versions] == [
        (2, True, "welcome.ogg"),
        (1, False, "welcome.wav"),
    ]
    result = runner.invoke(args=["prompts", "history", "welcome"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("* v2") and "welcome.ogg" in lines[0]
    assert lines[1].startswith("  v1") and "welcome.wav" in lines[1]

    # A rollback makes the previous version the candidate, and publishes it: the rules pass with it.
    result = runner.invoke(args=["prompts", "rollback", "welcome"])
    assert result.exit_code == 0, result.output
    assert "en-GB/welcome: version 1 waits to go live" in result.output
    assert "en-GB/welcome: live" in result.output
    row = lib.prompt(flow, "welcome", "en-GB")
    assert row.url == versions[1].url and row.state == "fresh"
    assert [v.current for v in lib.history(flow, "welcome", "en-GB")] == [False, True]
    status = runner.invoke(args=["prompts", "status"]).output
    assert any(line.split()[:3] == ["welcome", "fresh", "recording"] for line in status.splitlines())

    result = runner.invoke(args=["prompts", "rollback", "welcome"])
    assert result.exit_code == 1
    assert "no earlier version" in result.output
    with pytest.raises(AudioError):
        lib.rollback(flow, "main_menu_intro", "en-GB")


def test_editing_a_text_makes_exactly_that_prompt_stale(
    app, runner, lib, prompts_dir: Path, tmp_path
) -> None:
    for pid in ("welcome", "main_menu_intro", "opt_danger"):
        voice_for(tmp_path / "en-GB" / f"{pid}.wav", pid)
    assert runner.invoke(args=["prompts", "import", str(tmp_path / "en-GB")]).exit_code == 0
    edit_text(prompts_dir, "main_menu_intro: Main menu.", "main_menu_intro: The main menu.")
    flow = settled(app).flow
    states = {r.prompt_id: r.state for r in lib.status(flow) if r.state != "missing"}
    assert states == {"welcome": "fresh", "main_menu_intro": "stale", "opt_danger": "fresh"}
    result = runner.invoke(args=["prompts", "status", "--stale", "--lang", "en-GB"])
    assert result.exit_code == 0, result.output
    shown = [line.split()[0] for line in result.output.splitlines() if line.startswith("  ")]
    assert "main_menu_intro" in shown and "welcome" not in shown
    assert "1 stale" in result.output and "2 fresh (2 recorded, 0 gTTS)" in result.output
    count = len(flow.catalogue.languages["en-GB"].texts)
    assert result.output.startswith(f"en-GB English (texts approved; offered to callers): {count} prompts")
    history = lib.history(flow, "main_menu_intro", "en-GB")
    assert [v.fresh for v in history] == [False]


def test_slow_recordings_are_kept_apart(app, runner, lib, flow, tmp_path: Path) -> None:
    take = make_voice(tmp_path / "en-GB" / "welcome.wav", seconds=3.0)
    result = runner.invoke(args=["prompts", "import", "--slow", str(take)])
    assert result.exit_code == 0, result.output
    assert lib.prompt(flow, "welcome", "en-GB", slow=True).state == "fresh"
    assert lib.prompt(flow, "welcome", "en-GB", slow=False).state == "missing"
    assert "-slow." in lib.prompt(flow, "welcome", "en-GB", slow=True).url
    assert [r.slow for r in lib.status(flow, "en-GB") if r.prompt_id == "welcome"] == [False, True]
    # The other languages keep no slow recording of it: the import was English only.
    assert all(r.state == "missing" for r in lib.status(flow) if r.lang != "en-GB")


def test_a_corrupt_manifest_plays_nothing_and_is_set_aside(app, lib, flow, tmp_path: Path) -> None:
    # A corrupt manifest is rebuilt (here from nothing: there are no files), no longer refused; the
    # corrupt one is kept as manifest.json.broken. Recovery with files: tests/test_audio_safety.py.
    root = Path(app.config["AUDIO_DIR"])
    root.mkdir(parents=True)
    (root / "manifest.json").write_text("{ not json")
    fresh = AudioLibrary(root)
    assert fresh.status(flow)[0].state == "missing"
    take = voice_for(tmp_path / "welcome.wav", "welcome")
    row = fresh.import_recording(flow, "welcome", "en-GB", take, "welcome.wav")
    assert (row.state, row.candidate) == ("missing", 1)  # a candidate: it plays once published
    assert publish(fresh, flow, "welcome", "en-GB", by="ada", role="admin").state == "fresh"
    assert (root / "manifest.json.broken").read_text() == "{ not json"
    assert list(json.loads((root / "manifest.json").read_text())["prompts"]) == ["en-GB/welcome"]
