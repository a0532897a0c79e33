"""The prompt library: states, uploads through the audio library's checks, history and rollback."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest

from ivr import create_app
from ivr.services import services
from tests.helpers import audio as audio_helpers
from tests.helpers.admin import csrf_token, https_client, make_users, sign_in, signed_in
from tests.helpers.twilio import post_signed

PAGE = "/admin/prompts/main_menu_intro/en-GB"
UPLOAD = PAGE + "/upload"


@pytest.fixture
def web(app):
    client = signed_in(app, "sam")
    client.token = csrf_token(client, PAGE)
    return client


def upload(web, path=None, name="take.wav", data=None, fetch=False):
    """Send a file through the upload form (or as the page's recorder does)."""
    body = data if data is not None else path.read_bytes()
    headers = {"X-Requested-With": "fetch"} if fetch else {}
    return web.post(
        UPLOAD,
        data={"csrf_token": web.token, "audio": (io.BytesIO(body), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def voice(path, extra=0.0):
    """A short voice-like take of the main menu's text (`extra` seconds longer), as long as its words
    take to say: werkzeug's test client spools bodies over 500 kB to an unclosed file."""
    return audio_helpers.voice_for(path, "main_menu_intro", extra=extra, lead=0.3, tail=0.3)


def make_live(web, version, slow=False, fetch=False):
    """Make a version live through the prompt page's form, as the person signed in does."""
    return web.post(
        PAGE + "/publish" + ("?slow=1" if slow else ""),
        data={"csrf_token": web.token, "version": str(version), "confirm": "yes"},
        headers={"X-Requested-With": "fetch"} if fetch else {},
    )


def state_of(app, prompt_id="main_menu_intro"):
    flow = services(app).live.current().flow
    rows = services(app).audio.status(flow)
    return next(r for r in rows if r.prompt_id == prompt_id and r.lang == "en-GB" and not r.slow)


def test_library_lists_every_prompt_with_its_state(web, flow):
    page = web.get("/admin/prompts").get_data(as_text=True)
    for pid in flow.catalogue.languages["en-GB"].texts:
        assert f'id="row-{pid}"' in page
    assert page.count('data-state="missing"') == len(flow.catalogue.languages["en-GB"].texts)
    only_fresh = web.get("/admin/prompts?state=fresh").get_data(as_text=True)
    assert "data-state=" not in only_fresh


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".ogg", ".webm"])
def test_an_upload_becomes_fresh_and_plays_on_the_line(web, app, tmp_path, suffix):
    take = voice(tmp_path / f"take{suffix}")
    response = upload(web, take, name=f"studio take{suffix}")
    assert response.status_code == 302, response.get_data(as_text=True)
    row = state_of(app)
    assert (row.state, row.candidate) == ("missing", 1)  # a candidate: it plays nowhere yet
    page = web.get(PAGE).get_data(as_text=True)
    assert "your recording waits as a candidate. Hear it, then make it live." in page
    assert 'id="candidate-verdict">Every rule holds' in page and 'id="publish-form"' in page
    # Not safety-critical: the staff member who uploaded it makes it live.
    assert make_live(web, row.candidate).status_code == 302
    row = state_of(app)
    assert (row.state, row.source, row.candidate) == ("fresh", "recording", None)
    page = web.get(PAGE).get_data(as_text=True)
    assert "main_menu_intro (en-GB) is live: callers hear it from the next call." in page
    assert 'id="prompt-state">fresh<' in page
    # The caller's line now plays it: the main menu, asked again after a silence, starts with it.
    root = ET.fromstring(
        post_signed(app.test_client(), "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0", {}).get_data()
    )
    assert any(p.text.endswith(row.url) for p in root.iter("Play"))


def test_the_recorder_gets_json(web, app, tmp_path):
    take = voice(tmp_path / "browser.webm")
    response = upload(web, take, name="browser-recording.webm", fetch=True)
    assert response.status_code == 200
    assert response.get_json() == {
        "ok": True,
        "message": "main_menu_intro (en-GB): your recording waits as a candidate."
        " Hear it, then make it live.",
    }
    published = make_live(web, state_of(app).candidate, fetch=True)
    assert published.status_code == 200
    assert published.get_json() == {
        "ok": True,
        "message": "main_menu_intro (en-GB) is live: callers hear it from the next call.",
    }
    assert (state_of(app).state, state_of(app).original_name) == ("fresh", "browser-recording.webm")


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("notes.wav", b"this is plain text, not sound at all", "not audio"),
        ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, "not an audio file"),
        ("fake.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk", "refused"),
        ("", b"RIFF", "Choose a file"),
    ],
    ids=["text-as-wav", "wrong-type", "broken-wav", "no-file"],
)
def test_bad_uploads_are_refused_and_nothing_changes(web, app, name, data, reason):
    response = upload(web, name=name, data=data, fetch=True)
    assert response.status_code == 400
    assert reason in response.get_json()["message"]
    assert state_of(app).state == "missing"


def test_a_silent_recording_is_refused(web, app, tmp_path):
    silent = audio_helpers.make_silence(tmp_path / "silent.wav")
    response = upload(web, silent, name="silent.wav", fetch=True)
    assert response.status_code == 400
    assert state_of(app).state == "missing"


def test_uploaded_names_are_shown_escaped(web, app, tmp_path):
    take = voice(tmp_path / "take.wav")
    response = upload(web, take, name="<img src=x onerror=alert(1)>.wav")
    assert response.status_code == 302
    page = web.get(PAGE).get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.wav" in page


def test_uploads_are_size_limited(app_config, tmp_path):
    app = create_app({**app_config, "ADMIN_UPLOAD_BYTES": 10_000})
    make_users(app)
    web = https_client(app)
    sign_in(web, "sam")
    web.token = csrf_token(web, PAGE)
    take = voice(tmp_path / "long.wav")
    assert take.stat().st_size > 10_000
    assert upload(web, take).status_code == 413
    assert state_of(app).state == "missing"


def test_history_and_rollback(web, app, tmp_path):
    first = voice(tmp_path / "first.wav")
    second = voice(tmp_path / "second.wav", extra=0.4)
    assert upload(web, first, name="first.wav").status_code == 302
    assert make_live(web, 1).status_code == 302
    assert upload(web, second, name="second.wav").status_code == 302
    assert make_live(web, 2).status_code == 302
    assert state_of(app).original_name == "second.wav"
    page = web.get(PAGE).get_data(as_text=True)
    assert page.count("<tr") >= 3 and "(playing)" in page
    # A rollback makes the previous version the candidate: the second plays until it is made live.
    response = web.post(PAGE + "/rollback", data={"csrf_token": web.token})
    assert response.status_code == 302
    assert (state_of(app).original_name, state_of(app).candidate) == ("second.wav", 1)
    page = web.get(PAGE).get_data(as_text=True)
    assert "the previous audio waits as a candidate" in page and "1 (waiting)" in page
    assert make_live(web, 1).status_code == 302
    assert (state_of(app).original_name, state_of(app).candidate) == ("first.wav", None)
    again = web.post(
        PAGE + "/rollback", data={"csrf_token": web.token}, headers={"X-Requested-With": "fetch"}
    )
    assert again.status_code == 400
    assert "no earlier version" in again.get_json()["message"]


def test_unknown_prompts_and_languages_are_not_found(web):
    assert web.get("/admin/prompts/no_such_prompt/en-GB").status_code == 404
    assert web.get("/admin/prompts/main_menu_intro/xx-XX").status_code == 404
    bad = web.post("/admin/prompts/no_such_prompt/en-GB/upload", data={"csrf_token": web.token})
    assert bad.status_code == 404


def test_anonymous_uploads_get_nothing(app, tmp_path):
    make_users(app)
    web = https_client(app)
    token = csrf_token(web)
    take = voice(tmp_path / "take.wav")
    response = web.post(
        UPLOAD, data={"csrf_token": token, "audio": (io.BytesIO(take.read_bytes()), "take.wav")}
    )
    assert response.status_code == 401
    assert state_of(app).state == "missing"


def test_slower_speech_has_its_own_audio(web, app, prompts_dir, tmp_path):
    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(
        flow_file.read_text().replace(
            "gtts: {lang: en, tld: co.uk}", "gtts: {lang: en, tld: co.uk, slow: true}"
        )
    )
    assert services(app).live.reload() == []
    listing = web.get("/admin/prompts").get_data(as_text=True)
    assert 'id="row-main_menu_intro-slow"' in listing
    take = voice(tmp_path / "slow.wav", extra=0.6)
    response = web.post(
        UPLOAD + "?slow=1",
        data={"csrf_token": web.token, "audio": (io.BytesIO(take.read_bytes()), "slow.wav")},
    )
    assert response.headers["Location"] == PAGE + "?slow=1"
    published = make_live(web, 1, slow=True)
    assert published.headers["Location"] == PAGE + "?slow=1"
    flow = services(app).live.current().flow
    rows = {
        r.slow: r
        for r in services(app).audio.status(flow)
        if r.prompt_id == "main_menu_intro" and r.lang == "en-GB"
    }
    assert (rows[True].state, rows[False].state) == ("fresh", "missing")
    page = web.get(PAGE + "?slow=1").get_data(as_text=True)
    assert "slower speech" in page and 'id="prompt-state">fresh<' in page
