"""`ivr prompts render`: gTTS's own code with Google's answers mocked, real ffmpeg, atomic writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
import responses

from ivr.cli import cli
from ivr.services import services
from tests.helpers.audio import (
    GTTS_URL,
    SOME,
    check_consistent,
    decode,
    gtts_mp3,
    mock_google,
    publish_waiting,
    voice_for,
)
from tests.helpers.prompts import edit_text
from tests.helpers.reload import settled


@pytest.fixture(scope="module")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rendered") / "audio"


@pytest.fixture(scope="module")
def mp3() -> bytes:
    return gtts_mp3(0.8)


@pytest.fixture
def google(mp3: bytes):  # type: ignore[no-untyped-def]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield mock_google(rsps, mp3)


def statuses(app, lang: str = "en-GB") -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """Return one language's prompts (English unless told) as id -> (state, source)."""
    flow = services(app).live.current().flow
    return {
        r.prompt_id + ("@slow" if r.slow else ""): (r.state, r.source)
        for r in services(app).audio.status(flow, lang)
    }


def test_render_fills_the_library_then_has_nothing_to_do(app, ivr, google, flow, library_template) -> None:
    result = ivr("prompts", "render", "--lang", "en-GB")
    assert result.exit_code == 0, result.output
    prompts = len(flow.catalogue.languages["en-GB"].texts)
    assert f"{prompts} rendered" in result.output
    assert f"Rendering {prompts} prompt(s)" in result.output  # the progress bar's label
    assert set(statuses(app).values()) == {("fresh", "tts")}
    # Each prompt's spoken text went to Google: numbers spelled, British host, normal speed.
    joined = " ".join(google.texts())
    assert "0 8 0 8" in joined and "2 0 0 0" in joined and "{refuge}" not in joined
    assert set(google.hosts) == {"translate.google.co.uk"}
    assert {(lang, slow) for _, lang, slow in google.asked} == {("en", False)}
    lib = services(app).audio
    row = lib.prompt(flow, "welcome", "en-GB")
    decoded = decode(Path(app.config["AUDIO_DIR"]) / row.url.removeprefix("/audio/"))
    assert (decoded.codec, decoded.rate, decoded.channels) == ("pcm_mulaw", 8000, 1)
    assert row.duration == pytest.approx(decoded.seconds, abs=0.05)

    asked = len(google.asked)
    again = ivr("prompts", "render", "--lang", "en-GB")
    assert again.exit_code == 0, again.output
    assert "Nothing to render" in again.output
    assert len(google.asked) == asked
    shutil.copytree(app.config["AUDIO_DIR"], library_template)  # later tests start from this library


@pytest.fixture
def rendered(app, library_template: Path) -> Path:  # type: ignore[no-untyped-def]
    """Give the app a whole rendered library (a copy of the first test's, else rendered now)."""
    if not library_template.exists():
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            mock_google(rsps, gtts_mp3(0.8))
            assert app.test_cli_runner().invoke(cli, ["prompts", "render", "--lang", "en-GB"]).exit_code == 0
        shutil.copytree(app.config["AUDIO_DIR"], library_template)
    else:
        shutil.copytree(library_template, app.config["AUDIO_DIR"])
    return Path(app.config["AUDIO_DIR"])


def test_an_edited_text_is_rendered_again_alone(app, ivr, rendered, google, prompts_dir: Path) -> None:
    before = statuses(app)
    edit_text(prompts_dir, "main_menu_intro: Main menu.", "main_menu_intro: This is the main menu.")
    settled(app)
    after = statuses(app)
    assert {k for k in after if after[k] != before[k]} == {"main_menu_intro"}
    assert after["main_menu_intro"] == ("stale", "tts")
    result = ivr("prompts", "render", "--lang", "en-GB")
    assert result.exit_code == 0, result.output
    assert "1 rendered" in result.output
    assert google.texts() == ["This is the main menu."]
    assert statuses(app) == before
    history = services(app).audio.history(services(app).live.current().flow, "main_menu_intro", "en-GB")
    assert [(v.current, v.fresh) for v in history] == [(True, True), (False, False)]


def test_only_missing_and_all(app, ivr, rendered, google, prompts_dir: Path, tmp_path: Path) -> None:
    take = voice_for(tmp_path / "en-GB" / "welcome.wav", "welcome")
    assert ivr("prompts", "import", str(take)).exit_code == 0
    edit_text(prompts_dir, "main_menu_intro: Main menu.", "main_menu_intro: The main menu.")
    settled(app)
    result = ivr("prompts", "render", "--lang", "en-GB", "--only-missing")
    assert result.exit_code == 0, result.output
    assert google.asked == []
    assert statuses(app)["main_menu_intro"] == ("stale", "tts")
    result = ivr("prompts", "render", "--lang", "en-GB", "--all", *SOME)
    assert result.exit_code == 0, result.output
    assert "1 staff recording(s) kept" in result.output
    assert f"{len(SOME) - 1} rendered" in result.output  # fresh renders again, the recording not
    texts = google.texts()
    assert "The main menu." in texts and "Main menu." not in texts
    assert "Derbyshire Victim Services: the trafficking help line." not in texts
    assert statuses(app)["welcome"] == ("fresh", "recording")


def test_a_reverted_text_brings_back_its_recording(
    app, ivr, google, prompts_dir: Path, tmp_path: Path
) -> None:
    take = voice_for(tmp_path / "en-GB" / "main_menu_intro.wav", "main_menu_intro")
    assert ivr("prompts", "import", str(take)).exit_code == 0
    edit_text(prompts_dir, "main_menu_intro: Main menu.", "main_menu_intro: The main menu.")
    settled(app)
    assert ivr("prompts", "render", "--lang", "en-GB", "main_menu_intro").exit_code == 0
    assert statuses(app)["main_menu_intro"] == ("fresh", "tts")
    edit_text(prompts_dir, "main_menu_intro: The main menu.", "main_menu_intro: Main menu.")
    settled(app)
    google.asked.clear()
    result = ivr("prompts", "render", "--lang", "en-GB", "main_menu_intro")
    assert result.exit_code == 0, result.output
    assert "1 staff recording(s) reinstated" in result.output
    assert google.asked == []
    assert statuses(app)["main_menu_intro"] == ("fresh", "recording")


def test_slow_renders_where_the_flow_asks(app, ivr, google, prompts_dir: Path) -> None:
    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("tld: co.uk}", "tld: co.uk, slow: true}"))
    settled(app)
    result = ivr("prompts", "render", "--lang", "en-GB", "welcome", "main_menu_intro")
    assert result.exit_code == 0, result.output
    assert "4 rendered" in result.output
    states = statuses(app)
    assert states["welcome"] == states["welcome@slow"] == ("fresh", "tts")
    asked = {(text, slow) for text, _, slow in google.asked}
    assert {("Main menu.", False), ("Main menu.", True)} <= asked
    lib = services(app).audio
    flow = services(app).live.current().flow
    assert lib.prompt(flow, "welcome", "en-GB", True).url != lib.prompt(flow, "welcome", "en-GB").url


def test_transient_errors_are_retried(app, ivr, google) -> None:
    google.fail.extend([503, 500, requests.ConnectionError("reset by peer")])
    result = ivr("prompts", "render", "--lang", "en-GB", *SOME)
    assert result.exit_code == 0, result.output
    assert f"{len(SOME)} rendered" in result.output
    assert {statuses(app)[pid] for pid in SOME} == {("fresh", "tts")}


def test_a_refused_prompt_is_reported_and_the_rest_rendered(app, ivr, google) -> None:
    google.fail.append(400)
    result = ivr("prompts", "render", "--lang", "en-GB", *SOME)
    assert result.exit_code == 1
    assert "failed: en-GB/welcome" in result.output and "1 failed" in result.output
    states = statuses(app)
    assert states["welcome"] == ("missing", None)
    assert {states[pid] for pid in SOME[1:]} == {("fresh", "tts")}


def test_unknown_ids_are_refused(ivr, google) -> None:
    result = ivr("prompts", "render", "no_such_prompt")
    assert result.exit_code == 2
    assert "no prompt no_such_prompt" in result.output
    assert google.asked == []


def test_unreachable_gtts_says_so_and_the_line_keeps_working(app, ivr, call) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, GTTS_URL, body=requests.ConnectionError("Name or service not known"))
        result = ivr("prompts", "render")
    assert result.exit_code == 1
    assert "gTTS cannot be reached" in result.output
    assert "The line keeps working" in result.output and "<Say>" in result.output
    assert not (Path(app.config["AUDIO_DIR"]) / "manifest.json").exists()
    turn = call.start()
    assert turn.status == 200
    assert turn.plays == []
    assert any("dial 9 9 9" in said for said in turn.says)


def test_an_interrupted_render_keeps_what_it_finished(app, ivr, google) -> None:
    google.fail.extend([None] * 4 + [KeyboardInterrupt()])  # Ctrl-C while the fifth request waits
    result = ivr("prompts", "render", "--lang", "en-GB", *SOME)
    assert result.exit_code == 1
    assert "Aborted" in result.output
    root = Path(app.config["AUDIO_DIR"])
    assert check_consistent(root, strict=True) == 4
    # What it finished waits as candidates (the run died before publishing): an admin publishes them.
    lib, flow = services(app).audio, services(app).live.current().flow
    assert set(publish_waiting(lib, flow)) == {f"en-GB/{pid}" for pid in SOME[:4]}
    result = ivr("prompts", "render", "--lang", "en-GB", *SOME)
    assert result.exit_code == 0, result.output
    assert f"{len(SOME) - 4} rendered" in result.output
    assert check_consistent(root, strict=True) == len(SOME)


def test_every_language_renders_in_its_own_gtts_voice_and_tigrinya_is_left_to_staff(app, ivr, google) -> None:
    flow = services(app).live.current().flow
    voiced = {
        c: v.gtts["lang"]
        for c, v in flow.voices.items()
        if v.gtts.get("lang") and flow.catalogue.has("welcome", c)
    }
    unvoiced = [c for c in flow.catalogue.languages if c not in voiced and flow.catalogue.has("welcome", c)]
    assert "ti" in unvoiced and len(voiced) >= 2
    result = ivr("prompts", "render", "welcome")
    assert result.exit_code == 0, result.output
    assert f"{len(voiced)} rendered" in result.output
    assert f"{len(unvoiced)} without a gTTS voice (record them)" in result.output
    assert sorted(lang for _, lang, _ in google.asked) == sorted(voiced.values())
    for code in voiced:
        assert statuses(app, code)["welcome"] == ("fresh", "tts")
    assert statuses(app, "ti")["welcome"] == ("missing", None)
