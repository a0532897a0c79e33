"""GET /audio/… for Twilio and the console, and the <Play>/<Say> choice in the voice webhooks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import create_app
from ivr.audio.library import AudioLibrary
from ivr.audio.publishing import publish
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.audio import import_in_shell, import_live, voice_for
from tests.helpers.prompts import edit_text
from tests.helpers.reload import settled
from tests.helpers.twilio import TOKEN, post_signed, twiml

WELCOME = "Derbyshire Victim Services: the trafficking help line."


@pytest.fixture
def welcome(app, lib, flow, tmp_path: Path) -> str:
    """Import a recording of the welcome and publish it; return its path under /audio/."""
    take = voice_for(tmp_path / "takes" / "welcome.m4a", "welcome")
    return str(import_live(lib, flow, "welcome", take).url)


def test_fresh_audio_plays_with_an_absolute_url(call, welcome: str) -> None:
    turn = call.start()
    assert turn.plays == ["http://localhost" + welcome]
    assert WELCOME not in turn.says
    assert any("dial 9 9 9" in said for said in turn.says)  # the rest has no audio yet: <Say>


def test_the_served_file_is_what_twilio_plays(client, welcome: str, tmp_path: Path) -> None:
    with client.get(welcome) as response:
        body = response.get_data()
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    digest = welcome.rsplit(".", 2)[1]
    assert response.headers["ETag"] == f'"{digest}"'
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    with client.get(welcome, headers={"If-None-Match": f'"{digest}"'}) as again:
        assert again.status_code == 304
        assert again.get_data() == b""
    with client.head(welcome) as head:
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    "path",
    [
        "/audio/manifest.json",
        "/audio/.lock",
        "/audio/../secret.txt",
        "/audio/en-GB/../../secret.txt",
        "/audio/%2e%2e/secret.txt",
        "/audio/en-GB/..%2f..%2fsecret.txt",
        "/audio/en-GB/%2e%2e%2fmanifest.json",
        "/audio//etc/passwd",
        "/audio/en-GB/unlisted.0123456789abcdef.wav",
        "/audio/en-GB/welcome.wav",
        "/audio/.work/x.wav",
    ],
)
def test_nothing_else_can_be_reached(app, client, welcome: str, path: str) -> None:
    root = Path(app.config["AUDIO_DIR"])
    (root.parent / "secret.txt").write_text("not for callers")
    (root / "en-GB" / "unlisted.0123456789abcdef.wav").write_bytes(b"RIFF")
    (root / ".work").mkdir(exist_ok=True)
    (root / ".work" / "x.wav").write_bytes(b"RIFF")
    with client.get(path) as response:
        assert response.status_code in (404, 308), response.status_code
        assert b"not for callers" not in response.get_data()
    if response.status_code == 308:  # werkzeug normalises the path first; the target is refused too
        with client.get(response.headers["Location"]) as target:
            assert target.status_code == 404


def test_stale_audio_is_never_played(app, call, welcome: str, prompts_dir: Path) -> None:
    edit_text(prompts_dir, WELCOME, "Derbyshire Victim Services, trafficking help line.")
    settled(app)
    turn = call.start()
    assert turn.plays == []
    assert "Derbyshire Victim Services, trafficking help line." in turn.says


def test_rollback_and_import_reach_the_next_call(app, lib, flow, tmp_path: Path, welcome: str) -> None:
    second = voice_for(tmp_path / "takes" / "welcome.webm", "welcome", extra=-0.4)
    lib.import_recording(flow, "welcome", "en-GB", second, "welcome.webm")
    assert Call(app, TOKEN).start().plays == ["http://localhost" + welcome]  # a candidate plays nowhere
    newer = publish(lib, flow, "welcome", "en-GB", by="ada", role="admin").url
    assert newer != welcome
    settled(app)
    assert Call(app, TOKEN).start().plays == ["http://localhost" + newer]
    lib.rollback(flow, "welcome", "en-GB")  # the previous version becomes the candidate
    settled(app)
    assert Call(app, TOKEN).start().plays == ["http://localhost" + newer]
    publish(lib, flow, "welcome", "en-GB", by="ada", role="admin")
    settled(app)
    assert Call(app, TOKEN).start().plays == ["http://localhost" + welcome]


def test_an_import_in_a_shell_reaches_the_running_service(app, lib, flow, tmp_path: Path) -> None:
    assert Call(app, TOKEN).start().plays == []  # documents are built and cached without audio
    take = voice_for(tmp_path / "takes" / "en-GB" / "welcome.ogg", "welcome")
    done = import_in_shell(app, take, tmp_path)  # it publishes the recording: every rule passes
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported" in done.stdout
    settled(app)  # the service notices the manifest changed on disk
    plays = Call(app, TOKEN).start().plays
    url = lib.prompt(flow, "welcome", "en-GB").url
    assert url is not None
    assert plays == ["http://localhost" + url]


def test_urls_follow_the_host_twilio_called(app, welcome: str) -> None:
    first = Call(app, TOKEN, base_url="https://line.example.org").start()
    second = Call(app, TOKEN, base_url="https://other.example.net").start()
    assert first.plays == ["https://line.example.org" + welcome]
    assert second.plays == ["https://other.example.net" + welcome]


def test_a_configured_public_url_wins(app_config, tmp_path: Path) -> None:
    app = create_app({**app_config, "PUBLIC_URL": "https://dvs-line.example.org/"})
    flow = services(app).live.current().flow
    take = voice_for(tmp_path / "welcome.mp3", "welcome")
    url = import_live(services(app).audio, flow, "welcome", take).url
    assert Call(app, TOKEN).start().plays == ["https://dvs-line.example.org" + url]


def test_slow_lookups_need_slow_audio(app, lib, flow, tmp_path: Path, welcome: str) -> None:
    with app.test_request_context("/voice"):
        assert lib.urls(flow)("welcome", "en-GB", False) == "http://localhost" + welcome
        assert lib.urls(flow)("welcome", "en-GB", True) is None
    take = voice_for(tmp_path / "slow" / "welcome.wav", "welcome", extra=0.5)
    slow = import_live(lib, flow, "welcome", take, slow=True).url
    with app.test_request_context("/voice"):
        assert lib.urls(flow)("welcome", "en-GB", True) == "http://localhost" + slow
        assert lib.urls(flow)("welcome", "en-GB", False) == "http://localhost" + welcome
    assert lib.urls(flow)("welcome", "en-GB", False) is None  # no request, no public URL: <Say>


def test_a_file_deleted_by_hand_is_not_played(app, call, welcome: str) -> None:
    (Path(app.config["AUDIO_DIR"]) / welcome.removeprefix("/audio/")).unlink()
    turn = call.start()
    assert turn.plays == []
    assert WELCOME in turn.says


def test_a_broken_manifest_never_breaks_a_call(app, welcome: str) -> None:
    (Path(app.config["AUDIO_DIR"]) / "manifest.json").write_text("{ truncated")
    settled(app)
    turn = Call(app, TOKEN).start()
    assert turn.status == 200
    assert turn.plays == []
    assert WELCOME in turn.says


def test_the_safe_answer_is_spoken(app, client, flow, tmp_path: Path) -> None:
    for pid in flow.safe_say:
        take = voice_for(tmp_path / f"{pid}.wav", pid)
        import_live(AudioLibrary(Path(app.config["AUDIO_DIR"])), flow, pid, take)
    # The service notices the new audio inside this request and rebuilds its documents there.
    root = twiml(post_signed(client, "/voice/fallback"))
    assert root.findall(".//Play") == []
    assert [say.text for say in root.iter("Say")] == [
        flow.catalogue.text(pid, "en-GB") for pid in flow.safe_say
    ]
    # Elsewhere the same recordings play: those of the greeting's prompts that are in the safe answer.
    in_greeting = [pid for pid in flow.nodes[flow.start].say if pid in flow.safe_say]
    assert in_greeting  # the greeting gives the 999 advice, and it is part of the safe answer
    lib = services(app).audio
    expected = ["http://localhost" + str(lib.prompt(flow, pid, "en-GB").url) for pid in in_greeting]
    assert Call(app, TOKEN).start().plays == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.lists(
        st.sampled_from(
            ["..", ".", "%2e%2e", "%2f", "en-GB", "manifest.json", ".lock", "secret.txt", "", "//"]
        )
        | st.text(alphabet="./%2ef-GBwelcom", max_size=12),
        max_size=5,
    )
)
def test_no_path_serves_anything_but_listed_audio(app, client, welcome: str, path: list[str]) -> None:
    (Path(app.config["AUDIO_DIR"]).parent / "secret.txt").write_text("not for callers")
    url = "/audio/" + "/".join(path)
    with client.get(url) as response:
        body = response.get_data()
        status = response.status_code
    if status == 200:
        assert url == welcome or url.replace("//", "/") == welcome, url
    else:
        assert status in (404, 405, 308, 400), (url, status)
    assert b"not for callers" not in body


def test_simulate_prints_what_the_caller_hears_in_order(app, lib, flow, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from ivr.cli import cli

    greeting = flow.nodes[flow.start].say
    recorded = greeting[1]  # a recording in the middle of spoken prompts
    take = voice_for(tmp_path / f"{recorded}.wav", recorded)
    url = "http://localhost" + str(import_live(lib, flow, recorded, take).url)
    expected = [
        ("play", url) if pid == recorded else ("say", flow.catalogue.text(pid, "en-GB")) for pid in greeting
    ]
    turn = Call(app, TOKEN).start()
    assert turn.heard == expected
    assert (turn.says, turn.plays) == ([t for k, t in expected if k == "say"], [url])

    result = CliRunner().invoke(cli, ["simulate"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "> (call starts)"
    assert lines[1 : 1 + len(expected)] == [
        f"  [plays {value}]" if kind == "play" else f"  {value}" for kind, value in expected
    ]
