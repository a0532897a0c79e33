"""The console's pages for staff: error pages with a way back, JSON for scripts, library filters, local
times, the upload limit in the page, and a simulator that names each recording and each silence."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from ivr import create_app
from ivr.admin import sim
from ivr.audio.publishing import safety_critical
from ivr.flow.queries import places
from ivr.line.simulator import Call, Turn, parse
from ivr.services import services
from tests.helpers.admin import csrf_token, https_client, make_users, sign_in, signed_in
from tests.helpers.audio import make_voice
from tests.helpers.console import PROMPT, PROMPT_PAGE, prompt_with_history

TEMPLATES = Path(__file__).resolve().parents[1] / "ivr" / "admin" / "templates" / "admin"
ROW = re.compile(r'<tr id="row-([a-z0-9_]+)"')


@pytest.fixture
def staff(app):
    client = signed_in(app, "sam")
    client.token = csrf_token(client, PROMPT_PAGE)
    return client


def page_of(response) -> str:
    return response.get_data(as_text=True)


def rows(client, query: str = "") -> list[str]:
    """Return the prompt ids the library lists for a query string."""
    return ROW.findall(page_of(client.get("/admin/prompts" + query)))


# -- error pages ------------------------------------------------------------------------------------


def test_an_unknown_page_is_the_console_s_own_404_with_a_way_home(staff) -> None:
    for path in ("/admin/no-such-page", "/admin/prompts/no_such_prompt/en-GB", "/admin/prompts/welcome/xx"):
        response = staff.get(path)
        assert response.status_code == 404
        page = page_of(response)
        assert '<h1 id="error-heading">Page not found</h1>' in page
        assert 'href="/admin/" id="error-home">Go to the console\'s home page' in page
        assert 'rel="stylesheet" href="/admin/static/admin.css"' in page  # the console's own style
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_signed_out_visitor_to_an_unknown_page_is_asked_to_sign_in(app) -> None:
    response = https_client(app).get("/admin/no-such-page")
    assert response.status_code == 302 and "/admin/login?next=/admin/no-such-page" in response.location


def test_a_403_page_says_who_may_and_leads_back(staff) -> None:
    response = staff.get("/admin/flow", headers={"Referer": "https://localhost/admin/prompts?lang=pl"})
    assert response.status_code == 403
    page = page_of(response)
    assert "This page is for admins" in page
    assert 'href="/admin/prompts?lang=pl" id="error-back">Go back to the page you came from' in page


def test_a_way_back_never_leads_off_the_console(staff) -> None:
    for referrer in ("https://evil.example/admin/prompts", "https://localhost/voice", "javascript:alert(1)"):
        page = page_of(staff.get("/admin/flow", headers={"Referer": referrer}))
        assert 'id="error-back"' not in page and "evil.example" not in page


def test_a_change_from_another_site_gets_a_400_page_that_says_why(staff) -> None:
    response = staff.post(
        PROMPT_PAGE + "/rollback",
        data={"csrf_token": staff.token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 400
    assert "This change came from another site." in page_of(response)


def test_a_form_without_its_token_cannot_be_checked(staff) -> None:
    response = staff.post(PROMPT_PAGE + "/rollback", data={})
    assert response.status_code == 400
    page = page_of(response)
    assert "This form could not be checked" in page and "Nothing was changed" in page


def test_an_expired_form_says_so_and_leads_back_to_reload_it(app, staff) -> None:
    with staff.session_transaction() as session:
        raw = session["csrf_token"]

    class HoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 9 * 3600

    old = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token", signer=HoursAgo).dumps(raw)
    response = staff.post(
        PROMPT_PAGE + "/rollback",
        data={"csrf_token": old},
        headers={"Referer": f"https://localhost{PROMPT_PAGE}"},
    )
    assert response.status_code == 400
    page = page_of(response)
    assert "<title>This form has expired" in page and "reload the page, and try again" in page
    assert f'href="{PROMPT_PAGE}" id="error-back"' in page
    fetched = staff.post(
        PROMPT_PAGE + "/upload", data={"csrf_token": old}, headers={"X-Requested-With": "fetch"}
    )
    assert fetched.status_code == 400 and fetched.get_json()["title"] == "This form has expired"


def test_a_file_over_the_limit_gets_a_413_page_and_the_recorder_json(app_config, tmp_path) -> None:
    app = create_app({**app_config, "ADMIN_UPLOAD_BYTES": 50_000})
    client = signed_in(app, "sam")
    token = csrf_token(client, PROMPT_PAGE)
    body = make_voice(tmp_path / "long.wav", seconds=1.0).read_bytes()
    assert len(body) > 50_000
    for fetch in (False, True):
        response = client.post(
            PROMPT_PAGE + "/upload",
            data={"csrf_token": token, "audio": (io.BytesIO(body), "long.wav")},
            headers={"X-Requested-With": "fetch"} if fetch else {},
            content_type="multipart/form-data",
        )
        assert response.status_code == 413
        words = "takes files of at most 0.0477 MB"
        if fetch:
            assert response.get_json()["ok"] is False and words in response.get_json()["message"]
        else:
            assert "That file is too large" in page_of(response) and words in page_of(response)


def test_scripts_get_json_errors(app, staff) -> None:
    fetch = {"X-Requested-With": "fetch", "X-CSRFToken": staff.token}
    missing = staff.post("/admin/prompts/no_such_prompt/en-GB/upload", headers=fetch)
    assert missing.status_code == 404 and missing.is_json and missing.get_json()["title"] == "Page not found"
    refused = staff.post("/admin/api/sim", json={"action": "press", "key": "12"}, headers=fetch)
    assert refused.status_code == 400 and "the call is not waiting for a key" in refused.get_json()["message"]
    signed_out = https_client(app)
    token = csrf_token(signed_out)
    gone = signed_out.post("/admin/api/sim", json={"action": "start"}, headers={"X-CSRFToken": token})
    assert gone.status_code == 401 and gone.get_json()["title"] == "You are signed out"


def test_no_template_has_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), template.name


# -- the prompt library ------------------------------------------------------------------------------


def test_the_library_finds_prompts_by_words_or_id(staff, flow) -> None:
    found = rows(staff, "?q=refuge")
    texts = flow.catalogue.languages["en-GB"].texts
    assert found and all("refuge" in (pid + texts[pid]).lower() for pid in found)
    assert set(found) == {pid for pid in texts if "refuge" in (pid + texts[pid]).lower()}
    assert rows(staff, "?q=opt_") == [pid for pid in rows(staff) if pid.startswith("opt_")]
    page = page_of(staff.get("/admin/prompts?q=nothing+says+this"))
    assert "No prompt matches." in page and 'id="clear-filters"' in page


def test_the_library_filters_by_state_waiting_and_safety(app, staff, flow, tmp_path) -> None:
    prompt_with_history(app, tmp_path)
    assert rows(staff, "?waiting=1") == [PROMPT]
    assert rows(staff, "?state=fresh") == [PROMPT]
    assert PROMPT not in rows(staff, "?state=missing")
    critical = rows(staff, "?critical=1")
    assert critical and set(critical) == safety_critical(flow) & set(rows(staff))
    assert rows(staff, "?critical=1&waiting=1") == []
    assert rows(staff, "?state=nonsense&waiting=maybe") == rows(staff)  # unknown values are left out
    page = page_of(staff.get("/admin/prompts?waiting=1"))
    assert "version 3 waiting" in page and "1 of " in page


def test_the_library_says_where_each_prompt_is_heard(staff, flow) -> None:
    page = page_of(staff.get("/admin/prompts"))
    for pid, where in places(flow).items():
        if flow.catalogue.has(pid, "en-GB"):
            assert "Heard: " + "; ".join(where) in page.replace("&#39;", "'"), pid


def test_times_are_utc_in_time_elements_for_the_browser_to_convert(app, tmp_path) -> None:
    prompt_with_history(app, tmp_path)
    admin = signed_in(app, "ada")
    for path in (PROMPT_PAGE, "/admin/", "/admin/audit"):
        page = page_of(admin.get(path))
        stamps = re.findall(r'<time datetime="([\d-]{10}T[\d:]{8}Z)" class="local">([^<]+)</time>', page)
        assert stamps, path
        assert all(shown.endswith(" UTC") and shown[:10] == iso[:10] for iso, shown in stamps)
    assert 'src="/admin/static/console.js"' in page


def test_the_upload_field_carries_the_limit_for_the_browser(staff, app) -> None:
    page = page_of(staff.get(PROMPT_PAGE))
    limit = services(app).settings.admin_upload_bytes
    assert f'data-max-bytes="{limit}" data-error-id="audio-error"' in page
    assert 'id="audio-error" class="bad field-error" role="alert"' in page


def test_a_kept_recording_s_message_waits_for_the_reload(staff, tmp_path) -> None:
    take = make_voice(tmp_path / "take.webm", seconds=1.0, lead=0.3, tail=0.3)
    response = staff.post(
        PROMPT_PAGE + "/upload",
        data={"csrf_token": staff.token, "audio": (io.BytesIO(take.read_bytes()), "browser-recording.webm")},
        headers={"X-Requested-With": "fetch"},
        content_type="multipart/form-data",
    )
    assert response.get_json()["ok"] is True
    page = page_of(staff.get(PROMPT_PAGE))
    status = page[page.index('id="flash-status"') : page.index('id="flash-alert"')]
    assert "your recording waits as a candidate" in status


# -- the simulator -----------------------------------------------------------------------------------


def step(client, state: dict | None = None, **body) -> tuple[dict, dict]:
    headers = {"X-CSRFToken": client.token}
    response = client.post("/admin/api/sim", json={**(state or {}), **body}, headers=headers)
    assert response.status_code == 200, page_of(response)
    turn = response.get_json()
    return turn, {"sid": turn["sid"], "gather": turn["gather"], "dial": turn["dial"]}


@pytest.fixture
def caller(app):
    make_users(app)
    client = https_client(app)
    sign_in(client, "sam")
    client.token = csrf_token(client, "/admin/simulator")
    return client


def test_a_message_that_goes_on_says_how_long_the_silence_lasts(caller, flow) -> None:
    turn, state = step(caller, action="start")
    seconds = flow.limits.pass_timeout
    assert turn["wait"] == {
        "seconds": seconds,
        "moves_on": True,
        "to": flow.nodes[flow.start].next,
        "words": f"after {seconds} s of silence the call moves on to {flow.nodes[flow.start].next}",
    }
    turn, state = step(caller, state, action="press", key="1")  # English: the keys, then the main menu
    turn, state = step(caller, state, action="silence")
    assert turn["node"] == "main_menu"
    assert turn["wait"]["words"] == f"after {flow.limits.gather_timeout} s of silence the line asks again"
    assert turn["wait"]["moves_on"] is False
    for _ in range(flow.limits.silences - 1):
        turn, state = step(caller, state, action="silence")
    assert turn["wait"]["words"].endswith(f"the call goes to {flow.on_limit} and ends politely")


def test_recordings_are_named_by_their_prompt_with_its_words(app, caller, flow, tmp_path) -> None:
    prompt_with_history(app, tmp_path, candidate=False)
    _, state = step(caller, action="start")
    _, state = step(caller, state, action="press", key="1")  # English: the keys, then the main menu
    turn, _ = step(caller, state, action="silence")
    played = [p for p in turn["parts"] if p["kind"] == "play"]
    assert len(played) == 1
    assert played[0] | {"url": ""} == {
        "kind": "play",
        "url": "",
        "prompt_id": PROMPT,
        "lang": "en-GB",
        "slow": False,
        "text": flow.catalogue.text(PROMPT, "en-GB"),
    }
    assert re.search(rf"/audio/en-GB/{PROMPT}\.[0-9a-f]{{16}}\.wav$", played[0]["url"])
    assert [p["kind"] for p in turn["parts"]][0] == "play"  # heard first, then the spoken options


def test_a_transfer_says_how_long_it_rings(caller, flow) -> None:
    _, state = step(caller, action="start")
    turn, _ = step(caller, state, action="press", key="0")
    assert turn["ringing"] == flow.limits.dial_timeout and turn["wait"] is None


def test_a_redirect_is_followed_at_once_as_twilio_does(app, caller, monkeypatch) -> None:
    """The line ends no answer in a bare <Redirect> today; one that did would be followed without a key."""
    start = Call.start

    def redirecting(call: Call) -> Turn:
        start(call)
        twiml = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="1"/><Say>One moment.</Say>'
            '<Redirect method="POST">/voice/gather?node=greeting&amp;lang=en-GB&amp;s=0&amp;i=0</Redirect>'
            "</Response>"
        )
        turn = Turn(request="/voice", params={}, status=200, twiml=twiml)
        for name, value in parse(twiml).items():
            setattr(turn, name, value)
        call.turns.append(turn)
        return turn

    monkeypatch.setattr(Call, "start", redirecting)
    turn, _ = step(caller, action="start")
    assert [f["parts"] for f in turn["followed"]] == [
        [{"kind": "pause", "seconds": 1}, {"kind": "say", "text": "One moment.", "lang": ""}]
    ]
    assert turn["node"] == "language_menu" and turn["request"].startswith("/voice/gather?node=greeting")
    assert sim.MAX_REDIRECTS >= 1
