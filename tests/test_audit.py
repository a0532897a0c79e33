"""Who did what: the audit log, written where things happen, read by admins and `ivr audit`."""

from __future__ import annotations

import csv
import getpass
import inspect
import io
import logging
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from sqlalchemy import insert, select
from sqlalchemy import inspect as schema_of

from ivr import audit, db
from ivr.audio import sound
from ivr.audit import audit_log
from ivr.cli import cli
from ivr.services import services
from tests.helpers.admin import PASSWORDS, csrf_token, https_client, make_users, sign_in, signed_in
from tests.helpers.audio import gtts_mp3, make_voice, mock_google, voice_for

PAGE = "/admin/prompts/main_menu_intro/en-GB"
SHELL = f"shell:{getpass.getuser()}"
NUMBER = "+447700900123"


def engine_of(app):  # type: ignore[no-untyped-def]
    return services(app).engine


def logged(app, **filters) -> list[audit.Entry]:  # type: ignore[no-untyped-def]
    """Return what the audit log holds, newest first."""
    return audit.entries(engine_of(app), **filters)


def everything_stored(app) -> str:  # type: ignore[no-untyped-def]
    """Return every value of every audit row as one text, to look for what must never be there."""
    with engine_of(app).connect() as connection:
        return " ".join(str(value) for row in connection.execute(select(audit_log)) for value in row)


def voice(path: Path, seconds: float = 1.0) -> Path:
    return make_voice(path, seconds=seconds, lead=0.3, tail=0.3)


def upload(web, path: Path, name: str, prompt: str = PAGE, fetch: bool = False):  # type: ignore[no-untyped-def]
    """Send a take through the prompt page's form (or as its recorder does)."""
    return web.post(
        prompt + "/upload",
        data={"csrf_token": csrf_token(web, prompt), "audio": (io.BytesIO(path.read_bytes()), name)},
        headers={"X-Requested-With": "fetch"} if fetch else {},
        content_type="multipart/form-data",
    )


def make_playing(app, prompt_id: str, take: Path) -> None:  # type: ignore[no-untyped-def]
    """Give a prompt a new version that plays at once, whether or not imports wait to be published."""
    lib, flow = services(app).audio, services(app).live.current().flow
    live = {"live": True} if "live" in inspect.signature(lib.install).parameters else {}
    with lib.workdir() as work:
        out = work / ("out" + sound.EXTENSION)
        duration = lib.convert(take, out)
        lib.install(flow, prompt_id, "en-GB", False, out, "recording", duration, take.name, **live)


def dated(app, days_ago: float, who: str = "ada", action: str = "upload") -> None:  # type: ignore[no-untyped-def]
    """Store an entry made some days ago."""
    engine = engine_of(app)
    db.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(audit_log).values(
                at=audit.utcnow() - timedelta(days=days_ago),
                who=who,
                action=action,
                subject="welcome en-GB",
                detail=f"{days_ago} days ago",
            )
        )


# -- the console's doors -------------------------------------------------------------------------


def test_sign_in_and_out_are_recorded_with_the_address(app) -> None:
    make_users(app)
    web = https_client(app)
    assert sign_in(web, "ada").status_code == 302
    web.post("/admin/logout", data={"csrf_token": csrf_token(web, "/admin/")})
    out, signed = logged(app)
    assert (signed.who, signed.action, signed.subject, signed.detail) == (
        "ada",
        "sign_in",
        "ada",
        "role admin",
    )
    assert signed.address == "127.0.0.1"
    assert (out.who, out.action, out.subject, out.address) == ("ada", "sign_out", "ada", None)
    assert out.at >= signed.at


@pytest.mark.parametrize(
    "name,password,reason",
    [
        ("sam", "wrong-password-000", "wrong password"),
        ("nobody", PASSWORDS["sam"], "no such account"),
        ("", "whatever-it-was-1", "no name given"),
    ],
)
def test_a_failed_sign_in_records_the_name_tried_and_why_never_the_password(
    app, name, password, reason
) -> None:
    make_users(app)
    web = https_client(app)
    web.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in(web, name, password).status_code == 401
    (entry,) = logged(app)
    assert (entry.action, entry.subject, entry.detail, entry.address) == (
        "sign_in_failed",
        name,
        reason,
        "198.51.100.7",
    )
    assert entry.who == (name or "-")
    assert password not in everything_stored(app)


def test_a_number_typed_as_a_name_is_masked(app) -> None:
    make_users(app)
    assert sign_in(https_client(app), NUMBER, "some-password-123").status_code == 401
    (entry,) = logged(app)
    assert (entry.who, entry.subject) == ("[number]", "[number]")
    assert "7700900123" not in everything_stored(app)


# -- the prompts' audio, in the console ----------------------------------------------------------


def test_an_upload_and_a_browser_recording_are_recorded_by_who_made_them(app, tmp_path: Path) -> None:
    web = signed_in(app, "sam")
    assert upload(web, voice(tmp_path / "take.wav"), "studio take.wav").status_code == 302
    made = upload(
        web, voice(tmp_path / "b.webm"), "browser-recording.webm", "/admin/prompts/welcome/en-GB", True
    )
    assert made.status_code == 200, made.get_json()
    recorded, uploaded = logged(app, who="sam", limit=2)
    assert (uploaded.action, uploaded.subject) == ("upload", "main_menu_intro en-GB")
    assert uploaded.detail.startswith("no audio -> version 1") and uploaded.detail.endswith(
        ": studio take.wav"
    )
    assert (recorded.action, recorded.subject) == ("record", "welcome en-GB")
    assert recorded.detail.startswith("no audio -> version 1")
    assert uploaded.address is None


def test_a_refused_upload_changes_nothing_and_records_nothing(app) -> None:
    web = signed_in(app, "sam")
    text = Path(__file__)
    assert upload(web, text, "notes.wav", fetch=True).status_code == 400
    assert [e.action for e in logged(app)] == ["sign_in"]


def test_a_slow_upload_names_the_slow_speech(app, prompts_dir: Path, tmp_path: Path) -> None:
    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(
        flow_file.read_text().replace(
            "gtts: {lang: en, tld: co.uk}", "gtts: {lang: en, tld: co.uk, slow: true}"
        )
    )
    assert services(app).live.reload() == []
    web = signed_in(app, "sam")
    response = web.post(
        PAGE + "/upload?slow=1",
        data={
            "csrf_token": csrf_token(web, PAGE),
            "audio": (io.BytesIO(voice(tmp_path / "s.wav").read_bytes()), "s.wav"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert logged(app, action="upload")[0].subject == "slow main_menu_intro en-GB"


def test_a_rollback_in_the_console_says_from_which_version_to_which(app, tmp_path: Path) -> None:
    make_playing(app, "main_menu_intro", voice(tmp_path / "one.wav", 0.8))
    make_playing(app, "main_menu_intro", voice(tmp_path / "two.wav", 1.4))
    web = signed_in(app, "ada")
    assert web.post(PAGE + "/rollback", data={"csrf_token": csrf_token(web, PAGE)}).status_code == 302
    (entry,) = logged(app, action="rollback")
    assert (entry.who, entry.subject) == ("ada", "main_menu_intro en-GB")
    assert entry.detail.startswith("version 2 -> 1")


# -- the prompts' audio, from a shell ------------------------------------------------------------


def test_an_import_from_the_shell_is_recorded_as_the_unix_user(app, ivr, tmp_path: Path) -> None:
    take = voice(tmp_path / "takes" / "en-GB" / "welcome.wav")
    ivr("prompts", "import", str(take.parent.parent))  # what the command prints is test_audio's
    (entry,) = logged(app)
    assert (entry.who, entry.action, entry.subject) == (SHELL, "import", "welcome en-GB")
    assert entry.detail.startswith("no audio -> version 1") and entry.detail.endswith(": welcome.wav")


def test_a_rollback_from_the_shell(app, ivr, tmp_path: Path) -> None:
    make_playing(app, "welcome", voice_for(tmp_path / "one.wav", "welcome", extra=-0.4, lead=0.3, tail=0.3))
    make_playing(app, "welcome", voice_for(tmp_path / "two.wav", "welcome", lead=0.3, tail=0.3))
    result = ivr("prompts", "rollback", "welcome")
    assert result.exit_code == 0, result.output
    # The rollback makes version 1 the candidate; the command publishes it: two entries.
    published, entry = logged(app)
    assert (entry.who, entry.action, entry.subject) == (SHELL, "rollback", "welcome en-GB")
    assert entry.detail == "version 2 -> 1 (waiting to be published)"
    assert (published.who, published.action, published.subject) == (SHELL, "publish", "welcome en-GB")
    assert published.detail == "version 2 -> 1"


def test_a_render_records_each_prompt_it_changed(app, ivr) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_google(rsps, gtts_mp3(0.8))
        result = ivr("prompts", "render", "welcome", "goodbye", "--lang", "en-GB")
    assert result.exit_code == 0, result.output
    found = {e.subject: e for e in logged(app, action="render")}
    assert set(found) == {"welcome en-GB", "goodbye en-GB"}
    assert all(e.who == SHELL and e.detail.startswith("no audio -> version 1") for e in found.values())
    assert found["welcome en-GB"].detail.endswith(": gTTS")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        google = mock_google(rsps, gtts_mp3(0.8))
        google.fail = [500] * 20
        assert ivr("prompts", "render", "opt_danger", "--lang", "en-GB").exit_code == 1
    assert len(logged(app, action="render")) == 2  # a render that changed nothing recorded nothing


def test_confirming_rebuilt_audio_is_recorded(app, ivr, lib, tmp_path: Path) -> None:
    make_playing(app, "welcome", voice(tmp_path / "one.wav", 0.8))
    make_playing(app, "welcome", voice(tmp_path / "two.wav", 1.4))
    root = Path(app.config["AUDIO_DIR"])
    # The previous manifest first: a manifest missing while its previous one is still there is
    # rebuilt from that, and the app's watcher may look in between.
    (root / "manifest.json.prev").unlink(missing_ok=True)
    (root / "manifest.json").unlink()
    assert ivr("prompts", "status").exit_code == 0  # the library rebuilds its manifest from the files
    result = ivr("prompts", "confirm", "welcome")
    assert result.exit_code == 0, result.output
    (entry,) = logged(app)
    assert (entry.who, entry.action, entry.subject) == (SHELL, "confirm", "welcome en-GB")
    assert entry.detail.startswith("version ") and "vouched for" in entry.detail


# -- accounts, from a shell ----------------------------------------------------------------------


def test_accounts_added_changed_and_removed_are_recorded(app) -> None:
    runner = app.test_cli_runner()
    assert (
        runner.invoke(
            cli, ["users", "add", "carol", "--role", "staff"], input="carol-password-789\n"
        ).exit_code
        == 0
    )
    assert runner.invoke(cli, ["users", "password", "carol"], input="carol-password-000\n").exit_code == 0
    assert runner.invoke(cli, ["users", "remove", "carol"]).exit_code == 0
    assert (
        runner.invoke(cli, ["users", "remove", "carol"]).exit_code == 1
    )  # nothing removed: nothing recorded
    found = [(e.who, e.action, e.subject, e.detail) for e in reversed(logged(app))]
    assert found == [
        (SHELL, "user_added", "carol", "role staff"),
        (SHELL, "password_changed", "carol", ""),
        (SHELL, "user_removed", "carol", "role staff"),
    ]
    assert "carol-password" not in everything_stored(app)


# -- reading it: the console ---------------------------------------------------------------------


def test_only_admins_see_who_did_what(app) -> None:
    make_users(app)
    staff = https_client(app)
    sign_in(staff, "sam")
    assert staff.get("/admin/audit").status_code == 403
    assert staff.get("/admin/audit.csv").status_code == 403
    assert "/admin/audit" not in staff.get("/admin/").get_data(as_text=True)
    admin = https_client(app)
    sign_in(admin, "ada")
    assert 'href="/admin/audit"' in admin.get("/admin/").get_data(as_text=True)
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "sign_in" in text and "Who did what" in text
    # The console's CSP allows neither inline: scripts come from files (static/console.js), styles too.
    assert re.search(r"<script(?![^>]*\bsrc=)", text) is None and "style=" not in text
    assert https_client(app).get("/admin/audit").status_code == 302  # signed out: to the sign-in page


def test_the_page_filters_by_who_action_and_days(app) -> None:
    make_users(app)
    sign_in(https_client(app), "sam")
    sign_in(https_client(app), "sam", "wrong-password-000")
    dated(app, 40, who="sam", action="rollback")
    admin = https_client(app)
    sign_in(admin, "ada")

    def rows(query: str) -> list[str]:
        page = admin.get("/admin/audit" + query).get_data(as_text=True)
        return [
            line.split('"')[1] for line in page.splitlines() if line.strip().startswith("<tr data-action=")
        ]

    assert rows("") == ["sign_in", "sign_in_failed", "sign_in", "rollback"]
    assert rows("?who=sam") == ["sign_in_failed", "sign_in", "rollback"]
    assert rows("?action=sign_in_failed") == ["sign_in_failed"]
    old = (audit.utcnow() - timedelta(days=40)).date().isoformat()
    assert rows(f"?since={old}&until={old}") == ["rollback"]
    assert rows(f"?until={old}&who=sam&action=rollback") == ["rollback"]
    assert rows("?who=nobody") == []
    page = admin.get("/admin/audit?since=yesterday&action=drop").get_data(as_text=True)
    assert "is not a date" in page and "is not one of the actions" in page
    shown = admin.get("/admin/audit").get_data(as_text=True)
    assert f'datetime="{logged(app)[0].at.replace(microsecond=0).isoformat()}Z"' in shown


def test_the_csv_holds_what_the_filters_select(app) -> None:
    make_users(app)
    sign_in(https_client(app), "sam")
    sign_in(https_client(app), '=HYPERLINK("http://evil")', "wrong-password-000")
    admin = https_client(app)
    sign_in(admin, "ada")
    assert 'href="/admin/audit.csv?who=sam"' in admin.get("/admin/audit?who=sam").get_data(as_text=True)
    response = admin.get("/admin/audit.csv?who=sam")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["who"], r["action"], r["subject"], r["address"]) for r in rows] == [
        ("sam", "sign_in", "sam", "127.0.0.1")
    ]
    assert rows[0]["at"].endswith("Z") and "T" in rows[0]["at"]
    every = admin.get("/admin/audit.csv").get_data(as_text=True)
    failed = next(r for r in csv.DictReader(io.StringIO(every)) if r["action"] == "sign_in_failed")
    assert failed["who"].startswith("'=")  # a spreadsheet shows it, never runs it


# -- reading it: the shell -----------------------------------------------------------------------


def test_ivr_audit_prints_entries_as_text_and_csv(app, ivr) -> None:
    assert ivr("audit").output == "nothing recorded\n"
    make_users(app)
    sign_in(https_client(app), "ada")
    sign_in(https_client(app), "sam", "wrong-password-000")
    dated(app, 40, who="sam")
    text = ivr("audit")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert len(lines) == 3
    assert "sam" in lines[0] and "sign_in_failed" in lines[0] and "wrong password" in lines[0]
    assert "(from 127.0.0.1)" in lines[0]
    assert lines[1].split()[2:4] == ["ada", "sign_in"]
    only = ivr("audit", "--who", "sam", "--action", "sign_in_failed")
    assert len(only.output.splitlines()) == 1
    old = (audit.utcnow() - timedelta(days=40)).date().isoformat()
    assert ivr("audit", "--until", old).output.count("\n") == 1
    assert ivr("audit", "--since", old, "--who", "nobody").output == "nothing recorded that matches\n"
    table = ivr("audit", "--csv", "--since", audit.utcnow().date().isoformat())
    rows = list(csv.DictReader(io.StringIO(table.output)))
    assert [r["action"] for r in rows] == ["sign_in_failed", "sign_in"]
    assert list(rows[0]) == ["at", "who", "action", "subject", "detail", "address"]
    bad = ivr("audit", "--since", "31/01/2026")
    assert bad.exit_code == 2 and "is not a date like" in bad.output


def test_purge_deletes_entries_older_than_the_retention(app, ivr) -> None:
    for days in (400, 100, 1):
        dated(app, days)
    result = ivr("audit", "purge")
    assert result.exit_code == 0, result.output
    assert result.output == "deleted 1 audit log entry older than 365 day(s)\n"
    assert ivr("audit", "purge", "--older-than", "30").output.startswith("deleted 1 ")
    assert [e.detail for e in logged(app)] == ["1 days ago"]
    assert ivr("audit", "purge", "--older-than", "0").exit_code == 2


def test_the_retention_is_a_setting(app_config, monkeypatch) -> None:
    from ivr import create_app

    monkeypatch.setenv("IVR_AUDIT_RETENTION_DAYS", "7")
    app = create_app(app_config)
    assert services(app).settings.audit_retention_days == 7
    dated(app, 8)
    dated(app, 6)
    result = app.test_cli_runner().invoke(cli, ["audit", "purge"])
    assert result.output == "deleted 1 audit log entry older than 7 day(s)\n"


# -- never a phone number, never a failure ---------------------------------------------------------


def test_no_phone_number_is_ever_stored(app) -> None:
    engine = engine_of(app)
    assert audit.record(
        engine, f"ada {NUMBER}", "upload", f"welcome {NUMBER}", f"rang back {NUMBER}, 07700 900123"
    )
    (entry,) = logged(app)
    assert entry.detail == "rang back [number], [number]"
    assert "[number]" in entry.who and "[number]" in entry.subject
    assert "7700" not in everything_stored(app)


def test_entries_are_kept_short_and_on_one_line(app) -> None:
    assert audit.record(engine_of(app), "ada", "upload", "welcome\nen-GB", "x" * 2000)
    (entry,) = logged(app)
    assert entry.subject == "welcome en-GB" and len(entry.detail) == 500


def test_an_action_outside_the_list_is_not_recorded(app, caplog) -> None:
    assert audit.record(engine_of(app), "ada", "deleted_everything", "welcome en-GB") is False
    assert "not one of the audit log's actions" in caplog.text
    assert logged(app) == []


def test_a_database_that_is_down_loses_the_entry_not_the_request(tmp_path: Path, caplog) -> None:
    down = db.make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    caplog.set_level(logging.WARNING)
    assert audit.record(down, "ada", "upload", "welcome en-GB", "version 1 -> 2") is False
    assert (
        "audit log cannot be written" in caplog.text and "lost entry: ada upload welcome en-GB" in caplog.text
    )


def test_a_locked_database_does_not_stop_a_sign_in_or_an_upload(app, tmp_path: Path, caplog) -> None:
    make_users(app)
    web = https_client(app)
    assert sign_in(web, "sam").status_code == 302  # the audit table exists now
    database = Path(str(engine_of(app).url.database))
    blocker = sqlite3.connect(database, timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # nobody else can write; everybody can still read
    caplog.set_level(logging.WARNING)
    try:
        again = https_client(app)
        assert sign_in(again, "ada").status_code == 302
        assert again.get("/admin/").status_code == 200
        made = upload(again, voice(tmp_path / "take.wav"), "take.wav", fetch=True)
        assert made.status_code == 200 and made.get_json()["ok"] is True
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    lost = [r.getMessage() for r in caplog.records if "audit log cannot be written" in r.getMessage()]
    assert len(lost) == 2 and "database is locked" in lost[0]
    assert (
        "lost entry: ada sign_in ada" in lost[0] and "lost entry: ada upload main_menu_intro en-GB" in lost[1]
    )
    assert [e.action for e in logged(app)] == ["sign_in"]  # sam's, from before the lock


# -- on both stores ------------------------------------------------------------------------------


def test_the_log_on_sqlite_and_postgresql(journey_app) -> None:
    result = journey_app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output  # the console made its tables at start; this finds them
    engine = engine_of(journey_app)
    assert schema_of(engine).has_table("audit_log")
    assert audit.record(engine, "ada", "publish", "welcome en-GB", "version 1 -> 2")
    assert audit.record(engine, SHELL, "user_added", "carol", "role staff")
    dated(journey_app, 400)
    assert [e.action for e in audit.entries(engine)] == ["user_added", "publish", "upload"]
    assert [e.who for e in audit.entries(engine, who="ada")] == ["ada", "ada"]
    assert [e.action for e in audit.entries(engine, since=audit.utcnow().date())] == ["user_added", "publish"]
    assert audit.purge(engine, 365) == 1
    assert audit.to_csv(audit.entries(engine, limit=1)).splitlines()[1].split(",")[1:4] == [
        SHELL,
        "user_added",
        "carol",
    ]
