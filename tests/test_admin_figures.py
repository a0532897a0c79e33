"""The journeys page: figures of calls played through the line, a CSV download, admins only."""

from __future__ import annotations

import csv
import io

import pytest

from ivr.line.simulator import run
from ivr.services import services
from tests.helpers.admin import csrf_token, https_client, make_users, sign_in, signed_in
from tests.helpers.twilio import TOKEN, sign


@pytest.fixture
def web(app):
    return signed_in(app, "ada")


def play_calls(app) -> None:
    """Two calls: one to a busy transfer and back, one that chooses English and hangs up in help."""
    for keys in (["0", "busy"], ["1", "2"]):
        call = run(app, keys, token=TOKEN)
        call.hang_up(40)
    services(app).journeys.flush()


def test_figures_count_the_calls_played(web, app):
    play_calls(app)
    page = web.get("/admin/figures?days=1").get_data(as_text=True)
    assert '<dd id="calls">2</dd>' in page
    assert page.count("<svg") >= 5
    assert '<th scope="row">main_menu</th>' in page


def test_figures_with_no_calls(web):
    page = web.get("/admin/figures").get_data(as_text=True)
    assert '<dd id="calls">0</dd>' in page
    assert "no calls yet" in page


def test_csv_download(web, app):
    play_calls(app)
    page = web.get("/admin/figures?days=30&simulated=1").get_data(as_text=True)
    assert "figures.csv?days=30&amp;simulated=1" in page
    response = web.get("/admin/figures.csv?days=30&simulated=1")
    assert response.mimetype == "text/csv"
    assert 'filename="journeys-30d.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["figure", "item", "detail", "value"]
    assert ["calls", "all", "", "2"] in rows


def test_staff_get_no_figures(app):
    make_users(app)
    client = https_client(app)
    sign_in(client, "sam")
    assert client.get("/admin/figures").status_code == 403
    assert client.get("/admin/figures.csv").status_code == 403


def test_a_hang_up_in_the_simulator_is_recorded_as_the_ending(web, app):
    from ivr.journeys import report

    token = csrf_token(web, "/admin/simulator")
    headers = {"X-CSRFToken": token}
    started = web.post("/admin/api/sim", json={"action": "start"}, headers=headers).get_json()
    ended = web.post(
        "/admin/api/sim", json={"action": "hangup", "sid": started["sid"], "seconds": 9}, headers=headers
    )
    assert ended.status_code == 200
    services(app).journeys.flush()
    assert report.figures(services(app).engine).calls == 0  # a rehearsal, left out by default
    figs = report.figures(services(app).engine, simulated=True)
    assert figs.calls == 1
    assert figs.end_statuses == {"completed": 1}
    assert figs.call_seconds == [9]


def test_a_real_call_counts_and_a_rehearsal_does_not(app, ivr):
    """A call from Twilio has no simulator mark: `ivr report` counts it, and rehearsals only when asked."""
    real = {"CallSid": "CA" + "9" * 32}
    client = app.test_client()
    client.post("/voice", data=real, headers=sign("http://localhost/voice", real))
    run(app, ["1"], token=TOKEN, simulated=True)  # as the console's simulator and `ivr simulate` play
    services(app).journeys.flush()
    assert ": 1 call(s)" in ivr("report").output
    assert ": 2 call(s)" in ivr("report", "--include-simulated").output
