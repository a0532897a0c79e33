"""Prompt audio and languages together: what `ivr prompts status` says of each language, and
Tigrinya, heard only from recordings, offered to callers once staff have recorded every prompt."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from ivr import create_app
from ivr.cli import cli
from ivr.flow.languages import availability
from ivr.flow.queries import heard_prompts, language_node
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.audio import import_in_shell, make_voice, plausible_seconds
from tests.helpers.languages import gather_state
from tests.helpers.reload import settled
from tests.helpers.twilio import TOKEN

MISSING = "goodbye"  # a prompt callers hear at the end of a call: without it, no Tigrinya


def command(app, *args: str):  # type: ignore[no-untyped-def]
    """Run `ivr …` against the test app, as staff run it."""
    return app.test_cli_runner().invoke(cli, list(args))


def headers(output: str) -> dict[str, str]:
    """Return the heading line of each language in `ivr prompts status`, by language code."""
    return {line.split(" ", 1)[0]: line for line in output.splitlines() if line and not line.startswith(" ")}


def to_language_menu(app) -> tuple[Call, ET.Element]:  # type: ignore[no-untyped-def]
    """Ring the line (signed as Twilio signs) and let the greeting pass; return the call and the menu."""
    call = Call(app, TOKEN)
    call.start()
    return call, ET.fromstring(call.silence().twiml)


def ti_key(flow) -> str:  # type: ignore[no-untyped-def]
    node = language_node(flow)
    assert node is not None
    return next(o.key for o in node.options if o.lang == "ti")


def test_status_shows_each_language_review_state_and_whether_callers_are_offered_it(
    app, prompts_dir: Path
) -> None:
    flow = services(app).live.current().flow
    offered = services(app).live.current().renderer.offered
    assert "en-GB" in offered and "ti" not in offered and "sq" not in offered  # no audio yet
    result = command(app, "prompts", "status")
    assert result.exit_code == 0, result.output
    lines = headers(result.output)
    assert set(lines) == set(flow.catalogue.languages)
    for code, language in flow.catalogue.languages.items():
        state = "offered" if code in offered else "NOT offered"
        assert lines[code].startswith(
            f"{code} {language.name} (texts {language.review}; {state} to callers):"
        )
    after_ti = result.output.split(lines["ti"], 1)[1].splitlines()
    assert after_ti[1].startswith("  (not offered: no Twilio <Say> voice configured, and no fresh recordings")

    catalogue = prompts_dir / "ti.yaml"
    catalogue.write_text(catalogue.read_text().replace('review: "draft"', 'review: "reviewed"', 1))
    settled(app)
    result = command(app, "prompts", "status", "--lang", "ti")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ti Tigrinya (texts reviewed; NOT offered to callers):")


def test_tigrinya_recordings_imported_by_staff_put_tigrinya_in_the_language_menu(
    app, app_config, lib, prompts_dir: Path, tmp_path: Path
) -> None:
    flow = services(app).live.current().flow
    texts = flow.catalogue.languages["ti"].texts
    assert MISSING in heard_prompts(flow) and availability(flow, "ti").missing == ()
    # Real takes (ffmpeg), one for each half second of length, each copied under the names of the
    # prompts whose texts take about that long to say: every import is converted on its own.
    takes: dict[float, Path] = {}

    def take(pid: str) -> Path:
        seconds = max(0.5, round(plausible_seconds(pid, "ti") * 2) / 2)
        if seconds not in takes:
            takes[seconds] = make_voice(tmp_path / f"take-{seconds}.wav", seconds=seconds, lead=0.3, tail=0.3)
        return takes[seconds]

    folder = tmp_path / "takes" / "ti"
    folder.mkdir(parents=True)
    for pid in texts:
        if pid != MISSING:
            shutil.copy(take(pid), folder / f"{pid}.wav")
    result = command(app, "prompts", "import", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.count("imported ") == len(texts) - 1

    # One prompt short: Tigrinya is not read out, and its key is a wrong key.
    call, menu = to_language_menu(app)
    assert gather_state(menu)["node"] == "language_menu"
    assert not [p for p in menu.iter("Play") if "/ti/" in (p.text or "")]
    assert "ti" not in services(app).live.current().renderer.offered
    wrong = ET.fromstring(call.press(ti_key(flow)).twiml)
    assert gather_state(wrong) == {"node": "language_menu", "lang": "en-GB", "s": "0", "i": "1"}
    status = command(app, "prompts", "status", "--lang", "ti").output
    assert "NOT offered to callers" in status and f"'{MISSING}'" in status

    # The last recording, imported from a shell: the running line notices the manifest changed.
    last = tmp_path / "shell" / "ti" / f"{MISSING}.wav"
    last.parent.mkdir(parents=True)
    shutil.copy(take(MISSING), last)
    done = import_in_shell(app, last, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"as ti/{MISSING}" in done.stdout
    settled(app)

    urls = {pid: "http://localhost" + str(lib.prompt(flow, pid, "ti").url) for pid in texts}
    assert all(lib.prompt(flow, pid, "ti").state == "fresh" for pid in texts)
    call, menu = to_language_menu(app)
    ti_plays = [p.text for p in menu.iter("Play") if "/ti/" in (p.text or "")]
    assert ti_plays == [urls["language_choice"]]
    with app.test_client().get(urls["language_choice"].removeprefix("http://localhost")) as served:
        assert served.status_code == 200 and served.get_data()[:4] == b"RIFF"
    chosen = ET.fromstring(call.press(ti_key(flow)).twiml)
    state = gather_state(chosen)
    assert state["lang"] == "ti"
    node = flow.nodes[state["node"]]
    heard = [*node.say, *(o.say for o in node.options)]
    assert [p.text for p in chosen.iter("Play")] == [urls[pid] for pid in heard]
    assert list(chosen.iter("Say")) == []  # nothing in Tigrinya is left to a voice that cannot speak it
    status = command(app, "prompts", "status", "--lang", "ti").output
    assert status.startswith("ti Tigrinya (texts draft; offered to callers):")
    assert f"{len(texts)} fresh ({len(texts)} recorded, 0 gTTS)" in status

    # A line started later offers Tigrinya from its first call; the CLI's checks agree.
    restarted = create_app(app_config)
    assert "ti" in services(restarted).live.current().renderer.offered
    _, menu = to_language_menu(restarted)
    assert [p.text for p in menu.iter("Play") if "/ti/" in (p.text or "")] == [urls["language_choice"]]
    languages = command(restarted, "languages", "status").output
    assert "ti (Tigrinya, draft): offered (fresh audio for every prompt)" in languages

    # A text edited after its recording: the recording is stale, and Tigrinya is withdrawn at once.
    catalogue = prompts_dir / "ti.yaml"
    text = catalogue.read_text()
    assert f"\n  {MISSING}: " in text  # a one-line text
    catalogue.write_text(text.replace(f"\n  {MISSING}: ", f"\n  {MISSING}: ሰላም። ", 1))
    edited = settled(app).flow
    assert edited.catalogue.text_hash(MISSING, "ti") != flow.catalogue.text_hash(MISSING, "ti")
    assert lib.prompt(edited, MISSING, "ti").state == "stale"
    _, menu = to_language_menu(app)
    assert not [p for p in menu.iter("Play") if "/ti/" in (p.text or "")]
    assert "ti" not in services(app).live.current().renderer.offered
