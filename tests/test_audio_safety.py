"""The audio store never deletes what it cannot account for; only playable audio is played (issue 11)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import responses

from ivr.audio.library import AudioError, AudioLibrary
from ivr.audio.store import HISTORY_KEEP
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.audio import ffmpeg, gtts_mp3, import_live, mock_google, voice_for
from tests.helpers.languages import gather_state, install_audio, say_texts
from tests.helpers.reload import settled
from tests.helpers.twilio import TOKEN, post_signed, twiml


def audio_root(app) -> Path:  # type: ignore[no-untyped-def]
    return Path(app.config["AUDIO_DIR"])


def wavs(root: Path) -> set[str]:
    """Return every audio file in the language folders, as a path under audio/."""
    return {f"{p.parent.name}/{p.name}" for p in root.glob("*/*.wav") if not p.parent.name.startswith(".")}


def listed(root: Path) -> set[str]:
    data = json.loads((root / "manifest.json").read_text())
    return {v["file"] for entry in data["prompts"].values() for v in entry["versions"]}


def take(tmp_path: Path, folder: str, prompt_id: str, extra: float = 0.0) -> Path:
    """Make a staff take named as `ivr prompts import` wants it: <folder>/en-GB/<prompt_id>.wav, as long
    as its text takes to say (`extra` seconds longer: another take)."""
    return voice_for(tmp_path / folder / "en-GB" / f"{prompt_id}.wav", prompt_id, extra=extra)


def tone(path: Path, frequency: int) -> Path:
    """Write a short G.711 file as the library keeps them (a different sound for each frequency)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={frequency}:duration=0.3", "-ar", "8000", "-ac", "1",
           "-c:a", "pcm_mulaw", "-y", str(path))  # fmt: skip
    return path


@pytest.fixture
def recorded(app, ivr, lib, flow, tmp_path: Path) -> dict[str, str]:
    """Two recordings of the welcome (the second plays) and one of the menu intro, imported as staff do;
    the last, held as a candidate, is one change to the manifest (an import that publishes makes two)."""
    for folder, pid, extra in (("a", "welcome", -0.4), ("b", "welcome", 0.0), ("c", "main_menu_intro", 0.0)):
        hold = ["--hold"] if pid == "main_menu_intro" else []
        result = ivr("prompts", "import", *hold, str(take(tmp_path, folder, pid, extra)))
        assert result.exit_code == 0, result.output
    first, second = (v.url for v in reversed(lib.history(flow, "welcome", "en-GB")))
    return {"first": first, "second": second, "intro": lib.history(flow, "main_menu_intro", "en-GB")[0].url}


# -- the store never deletes what it cannot account for ----------------------------------------


@pytest.mark.parametrize("previous", [True, False], ids=["with-prev", "without-prev"])
@pytest.mark.parametrize("how", ["deleted", "garbage"])
def test_a_lost_manifest_loses_no_recording(
    app, ivr, lib, flow, tmp_path: Path, recorded: dict[str, str], how: str, previous: bool, caplog
) -> None:
    root = audio_root(app)
    before = wavs(root)
    assert len(before) == 3
    # The previous manifest first: the app's watcher may look in between, and a manifest lost while
    # its previous one is still there is rightly rebuilt from that.
    if previous:
        assert (root / "manifest.json.prev").is_file()  # kept by every write
    else:
        (root / "manifest.json.prev").unlink(missing_ok=True)
    if how == "deleted":
        (root / "manifest.json").unlink()
    else:
        (root / "manifest.json").write_text('{"format": 1, "prompts": {"en-GB/welc')
    caplog.set_level(logging.WARNING)

    result = ivr("prompts", "import", str(take(tmp_path, "d", "opt_danger")))
    assert result.exit_code == 0, result.output

    assert before <= wavs(root)  # every file is still there…
    assert before <= listed(root)  # …and listed again
    assert "rebuilt from" in caplog.text
    history = lib.history(flow, "welcome", "en-GB")
    assert {v.url for v in history} == {recorded["first"], recorded["second"]}
    if how == "garbage":
        assert (root / "manifest.json.broken").read_text().startswith('{"format": 1, "prompts": {"en-GB/welc')
    plays = Call(app, TOKEN).start().plays
    if previous:
        # The previous manifest knew the welcome's files and texts: it plays as it did.
        assert plays == ["http://localhost" + recorded["second"]]
        assert [v.rebuilt for v in history] == [False, False]
    else:
        # Nobody can tell what text a file alone was made from: kept, but not played until confirmed.
        assert plays == []
        assert [v.rebuilt for v in history] == [True, True]
        assert lib.prompt(flow, "welcome", "en-GB").state == "stale"
    # The menu intro was added by the change the lost manifest recorded: it comes back from its file,
    # and is not played until staff vouch for it (it never was: it waited as a candidate).
    intro = lib.prompt(flow, "main_menu_intro", "en-GB")
    assert (intro.url, intro.state, intro.rebuilt) == (recorded["intro"], "stale", True)


def test_rebuilt_audio_plays_once_staff_confirm_it(app, ivr, lib, flow, recorded: dict[str, str]) -> None:
    root = audio_root(app)
    # The previous manifest first: the watcher may look between the two, and a manifest missing
    # while its previous one is still there is rightly rebuilt from that (and plays as before).
    (root / "manifest.json.prev").unlink(missing_ok=True)
    (root / "manifest.json").unlink()
    settled(app)
    status = ivr("prompts", "status", "--lang", "en-GB")
    assert status.exit_code == 0, status.output
    assert "rebuilt from the files after the manifest was lost" in status.output
    welcome = next(line for line in status.output.splitlines() if line.split()[:1] == ["welcome"])
    assert welcome.split()[1:3] == ["stale", "unknown"] and "(rebuilt, unconfirmed)" in welcome
    history = ivr("prompts", "history", "welcome")
    assert history.output.count("rebuilt, unconfirmed") == 2, history.output
    assert Call(app, TOKEN).start().plays == []

    # Staff listen, and vouch for the first take: it plays, as a recording, from the next call on.
    first = next(v.version for v in lib.history(flow, "welcome", "en-GB") if v.url == recorded["first"])
    result = ivr("prompts", "confirm", "welcome", "--version", str(first))
    assert result.exit_code == 0, result.output
    row = lib.prompt(flow, "welcome", "en-GB")
    assert (row.url, row.state, row.source, row.rebuilt) == (recorded["first"], "fresh", "recording", False)
    settled(app)
    assert Call(app, TOKEN).start().plays == ["http://localhost" + recorded["first"]]
    again = ivr("prompts", "confirm", "welcome")
    assert again.exit_code == 1 and "was not rebuilt" in again.output


def test_rendering_again_confirms_rebuilt_renders_that_come_out_the_same(app, ivr, lib, flow) -> None:
    root = audio_root(app)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_google(rsps, gtts_mp3(0.6))
        assert ivr("prompts", "render", "--lang", "en-GB", "welcome", "opt_danger").exit_code == 0
        files = wavs(root)
        (root / "manifest.json.prev").unlink(missing_ok=True)  # first: see above
        (root / "manifest.json").unlink()
        settled(app)
        assert lib.prompt(flow, "welcome", "en-GB").state == "stale"  # rebuilt: nobody vouches for it
        assert ivr("prompts", "render", "--lang", "en-GB", "welcome", "opt_danger").exit_code == 0
    # gTTS made the very same bytes from today's text: that confirms them; no second copy is listed.
    assert wavs(root) == files
    for pid in ("welcome", "opt_danger"):
        assert [(v.source, v.fresh, v.rebuilt) for v in lib.history(flow, pid, "en-GB")] == [
            ("tts", True, False)
        ]


def test_a_change_that_would_drop_entries_is_refused(app, lib, flow, recorded: dict[str, str]) -> None:
    root = audio_root(app)
    manifest = (root / "manifest.json").read_bytes()
    files = wavs(root)
    with pytest.raises(AudioError, match="refused"):
        lib.update(lambda entries: entries.clear())
    with pytest.raises(AudioError, match="refused.*en-GB/main_menu_intro"):
        lib.update(lambda entries: entries.pop("en-GB/main_menu_intro"))
    with pytest.raises(AudioError, match="refused.*" + recorded["first"].removeprefix("/audio/")):
        lib.update(lambda entries: entries["en-GB/welcome"]["versions"].pop(0))
    assert (root / "manifest.json").read_bytes() == manifest
    assert wavs(root) == files
    assert lib.prompt(flow, "welcome", "en-GB").url == recorded["second"]


def test_a_file_the_previous_manifest_lists_is_never_deleted(
    app, ivr, lib, flow, tmp_path: Path, recorded: dict[str, str]
) -> None:
    root = audio_root(app)
    # Someone edits the manifest by hand and drops the welcome (the previous manifest still lists it).
    data = json.loads((root / "manifest.json").read_text())
    del data["prompts"]["en-GB/welcome"]
    (root / "manifest.json").write_text(json.dumps(data))
    # One change (held: publishing would be a second), with the previous manifest as it was.
    assert ivr("prompts", "import", "--hold", str(take(tmp_path, "d", "opt_danger"))).exit_code == 0
    for url in (recorded["first"], recorded["second"]):
        assert (root / url.removeprefix("/audio/")).is_file()
    # The next change: no manifest lists them now. They are set aside, never deleted.
    assert ivr("prompts", "import", str(take(tmp_path, "e", "opt_report"))).exit_code == 0
    for url in (recorded["first"], recorded["second"]):
        name = url.removeprefix("/audio/")
        assert not (root / name).exists() and (root / ".unlisted" / name).is_file()


def test_a_rollback_to_a_file_that_is_gone_is_refused(app, ivr, lib, flow, recorded: dict[str, str]) -> None:
    (audio_root(app) / recorded["first"].removeprefix("/audio/")).unlink()
    result = ivr("prompts", "rollback", "welcome")
    assert result.exit_code == 1
    assert "the file is missing" in result.output
    assert lib.prompt(flow, "welcome", "en-GB").url == recorded["second"]


def test_history_beyond_the_limit_is_deleted_on_purpose(app, lib, flow, tmp_path: Path) -> None:
    root = audio_root(app)
    for number in range(HISTORY_KEEP + 2):
        lib.install(flow, "welcome", "en-GB", False, tone(tmp_path / f"{number}.wav", 300 + 40 * number),
                    "recording", 0.3)  # fmt: skip
    versions = lib.history(flow, "welcome", "en-GB")
    assert [v.version for v in versions] == list(range(HISTORY_KEEP + 2, 2, -1))
    assert wavs(root) == {v.url.removeprefix("/audio/") for v in versions}
    assert not (root / ".unlisted").exists()


# -- only playable audio is played ----------------------------------------------------------------


@pytest.fixture
def welcome(app, lib, flow, tmp_path: Path) -> str:
    """A recording of the welcome that plays; return its path under /audio/."""
    made = voice_for(tmp_path / "takes" / "welcome.wav", "welcome")
    url = str(import_live(lib, flow, "welcome", made).url)
    assert Call(app, TOKEN).start().plays == ["http://localhost" + url]  # built and cached with it
    return url


def test_a_deleted_file_is_spoken_at_the_next_answer(app, client, flow, welcome: str) -> None:
    path = audio_root(app) / welcome.removeprefix("/audio/")
    data = path.read_bytes()
    path.unlink()
    settled(app)  # the manifest did not change: the library notices by itself
    turn = Call(app, TOKEN).start()
    assert turn.plays == []
    assert flow.catalogue.text("welcome", "en-GB") in turn.says
    with client.get(welcome) as response:
        assert response.status_code == 404
    path.write_bytes(data)  # put back: it plays again
    settled(app)
    assert Call(app, TOKEN).start().plays == ["http://localhost" + welcome]


@pytest.mark.parametrize("same_stat", [False, True], ids=["new-bytes", "same-size-and-mtime"])
def test_a_damaged_file_is_neither_served_nor_played(
    app, client, ivr, lib, flow, welcome: str, same_stat: bool
) -> None:
    path = audio_root(app) / welcome.removeprefix("/audio/")
    st = path.stat()
    path.write_bytes(os.urandom(st.st_size if same_stat else 3000))
    if same_stat:  # a stat cannot see it: the bytes served are checked against the hash all the same
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert path.stat().st_size == st.st_size
    with client.get(welcome) as response:
        assert response.status_code == 404
        assert response.mimetype != "audio/wav"
    settled(app)
    turn = Call(app, TOKEN).start()
    assert turn.plays == []
    assert flow.catalogue.text("welcome", "en-GB") in turn.says
    row = lib.prompt(flow, "welcome", "en-GB")
    assert (row.state, row.problem) == (
        "missing",
        "the file is damaged: its content does not match the hash in its name",
    )
    status = ivr("prompts", "status", "--lang", "en-GB")
    assert "damaged" in status.output
    # A new library (another worker, a restart) verifies the file at load: not played either.
    assert AudioLibrary(audio_root(app)).fresh_file(flow, "welcome", "en-GB", False) is None


def test_a_deleted_tigrinya_file_withdraws_tigrinya_and_moves_its_callers_to_english(app, lib, flow) -> None:
    install_audio(app, ["ti"])
    client = app.test_client()
    menu = twiml(post_signed(client, "/voice/gather?node=greeting&lang=en-GB", {}))
    assert any("/audio/ti/" in str(p.text) for p in menu.iter("Play"))
    assert "ti" in services(app).live.current().renderer.offered

    (audio_root(app) / str(lib.prompt(flow, "advice_999", "ti").url).removeprefix("/audio/")).unlink()
    settled(app)

    greeting = twiml(post_signed(client, "/voice", {}))
    assert say_texts(greeting)[1] == flow.catalogue.text("advice_999", "en-GB")
    menu = twiml(post_signed(client, "/voice/gather?node=greeting&lang=en-GB", {}))
    assert not list(menu.iter("Play"))  # Tigrinya was the only language read from audio
    assert "ti" not in services(app).live.current().renderer.offered
    chosen = twiml(post_signed(client, "/voice/gather?node=language_menu&lang=en-GB", {"Digits": "5"}))
    assert say_texts(chosen)[0] == flow.catalogue.text("not_an_option", "en-GB")
    # A caller already in Tigrinya is answered in English from the next key on: here, the 999 advice.
    moved = twiml(post_signed(client, "/voice/gather?node=main_menu&lang=ti", {"Digits": "1"}))
    assert gather_state(moved)["lang"] == "en-GB"
    assert not list(moved.iter("Play"))
    assert say_texts(moved)[0] == flow.catalogue.text("advice_999", "en-GB")
    # Wherever their next key takes them, the 999 advice in English comes first.
    elsewhere = twiml(post_signed(client, "/voice/gather?node=main_menu&lang=ti", {"Digits": "2"}))
    assert gather_state(elsewhere)["lang"] == "en-GB" and gather_state(elsewhere)["node"] == "help_menu"
    assert say_texts(elsewhere)[0] == flow.catalogue.text("advice_999", "en-GB")
    assert say_texts(elsewhere).count(flow.catalogue.text("advice_999", "en-GB")) == 1
    transfer_failed = twiml(
        post_signed(client, "/voice/dial?node=refuge_transfer&lang=ti", {"DialCallStatus": "busy"})
    )
    assert say_texts(transfer_failed)[0] == flow.catalogue.text("advice_999", "en-GB")
