"""Never down: a refused flow on disk, a restart, a killed worker: every call still answered."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr import create_app
from ivr.checks import load
from ivr.flow.catalogue import load_language
from ivr.line import snapshot
from ivr.services import services
from tests.helpers.production import free_port, wait_until_up
from tests.helpers.prompts import edit
from tests.helpers.reload import settled
from tests.helpers.twilio import ROOT, TOKEN, post_signed, sign, twiml

BREAK = ("goto: learn_menu}", "goto: nowhere}")


def says(root: ET.Element) -> str:
    return " ".join(" ".join(s.itertext()) for s in root.iter("Say"))


def test_a_restart_on_a_refused_flow_serves_the_last_good_version(app_config, prompts_dir: Path) -> None:
    first = create_app(app_config)
    good = services(first).live.current().flow.version
    edit(prompts_dir / "flow.yaml", *BREAK)
    restarted = create_app(app_config)  # a deploy, an OOM kill, a reboot
    live = services(restarted).live
    assert live.current().flow.version == good
    assert live.source == "last good flow" and live.degraded
    assert any("nowhere" in p.reason for p in live.problems)
    client = restarted.test_client()
    greeting = twiml(post_signed(client, "/voice", {"CallSid": "CA" + "1" * 32}))
    assert "9 9 9" in says(greeting)
    health = client.get("/health").get_json()
    assert health["status"] == "degraded" and health["flow"] == good
    assert health["serving"] == "last good flow"
    assert health["on_disk"]["refused"] and any("nowhere" in p for p in health["on_disk"]["first"])


def test_a_first_start_on_a_refused_flow_serves_the_last_resort(app_config, prompts_dir: Path) -> None:
    edit(prompts_dir / "flow.yaml", *BREAK)
    app = create_app(app_config)
    assert services(app).live.source == "last-resort flow"
    client = app.test_client()
    greeting = twiml(post_signed(client, "/voice", {"CallSid": "CA" + "2" * 32}))
    heard = says(greeting)
    assert "dial 9 9 9" in heard and "press 5, 5" in heard and "press 0" in heard
    menu = twiml(post_signed(client, "/voice/gather?node=greeting&lang=en-GB", {}))
    assert "0 8 0 8, 2 0 0 0, 2 4 7" in says(menu)
    transfer = twiml(post_signed(client, "/voice/gather?node=refuge_menu&lang=en-GB", {"Digits": "0"}))
    assert transfer.find("Dial/Number").text == "+448082000247"
    assert twiml(post_signed(client, "/voice/fallback", {})).find(".//Say") is not None
    assert client.get("/health").get_json()["status"] == "degraded"


def test_a_fixed_flow_goes_live_and_health_is_ok_again(app_config, prompts_dir: Path) -> None:
    app = create_app(app_config)
    client = app.test_client()
    health = client.get("/health").get_json()
    assert (health["status"], health["flow"], health["serving"]) == (
        "ok",
        services(app).live.current().flow.version,
        "prompts",
    )
    assert "on_disk" not in health
    edit(prompts_dir / "flow.yaml", *BREAK)
    settled(app)
    assert client.get("/health").get_json()["status"] == "degraded"  # before any restart
    edit(prompts_dir / "flow.yaml", *reversed(BREAK))
    settled(app)
    assert client.get("/health").get_json()["status"] == "ok"


def test_the_kept_copy_is_written_whole_and_old_copies_are_pruned(
    app_config, prompts_dir, instance_dir
) -> None:
    app = create_app(app_config)
    first = services(app).live.current().flow.version
    kept = snapshot.last_good(instance_dir)
    assert kept is not None and load(kept)[0].version == first
    for n in range(snapshot.KEEP + 2):
        edit(prompts_dir / "en-GB.yaml", "Main menu.", f"Main menu {n}.")
        settled(app)
        edit(prompts_dir / "en-GB.yaml", f"Main menu {n}.", "Main menu.")
    settled(app)
    versions = [p for p in (instance_dir / snapshot.FOLDER).iterdir() if not p.name.startswith(".")]
    assert len(versions) <= snapshot.KEEP
    serving = services(app).live.current().flow.version  # the last edit went live here
    assert load(snapshot.last_good(instance_dir))[0].version == serving == first


def test_keeping_a_version_leaves_another_live_worker_s_copy_alone_and_clears_a_dead_one_s(
    app_config, prompts_dir, instance_dir, caplog
) -> None:
    app = create_app(app_config)
    settled(app)
    base = instance_dir / snapshot.FOLDER
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    live = base / f"{snapshot.COPY_PREFIX}{os.getppid()}-making"  # a worker still copying
    dead = base / f"{snapshot.COPY_PREFIX}{ended.pid}-left"  # a worker killed mid-copy
    for folder in (live, dead):
        folder.mkdir()
        (folder / "flow.yaml").write_text("half a copy")
    edit(prompts_dir / "en-GB.yaml", "main_menu_intro: Main menu.", "main_menu_intro: Main menu, kept.")
    settled(app)
    assert "Main menu, kept." in services(app).live.current().flow.catalogue.raw("main_menu_intro", "en-GB")
    assert live.is_dir() and not dead.exists()
    assert "could not be kept" not in caplog.text


def test_the_last_resort_passes_every_rule_and_says_what_the_shipped_prompts_say() -> None:
    flow, problems = load(snapshot.LAST_RESORT)
    assert problems == [] and flow is not None
    shipped, _ = load(ROOT / "prompts")
    for cid, contact in flow.contacts.items():
        assert (contact.spoken, contact.e164) == (shipped.contacts[cid].spoken, shipped.contacts[cid].e164)
    own, _ = load_language(snapshot.LAST_RESORT / "en-GB.yaml")
    for pid, text in own.texts.items():
        if pid == "keys_intro":  # the same, less the slow key the last resort does not have
            assert shipped.catalogue.raw(pid, "en-GB").startswith(text.removesuffix("hash."))
        else:
            assert text == shipped.catalogue.raw(pid, "en-GB"), pid
    assert flow.safe_say == shipped.safe_say


# --- gunicorn: a worker restarts on a refused flow --------------------------------------------


def signed_call(base: str, n: int) -> ET.Element:
    params = {"CallSid": f"CA{n:032d}", "From": "+447700900123"}
    url = base + "/voice"
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), headers=sign(url, params)
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
        return ET.fromstring(answer.read())


def workers_of(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


def test_gunicorn_keeps_answering_through_worker_restarts_on_a_refused_flow(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), TWILIO_AUTH_TOKEN=TOKEN, IVR_SECRET_KEY="k" * 32, IVR_WORKERS="2")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "ivr:create_app()",
    ]  # fmt: skip

    def start() -> subprocess.Popen[str]:
        server = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        wait_until_up(base, server)
        return server

    server = start()  # one good start: the flow is kept in instance/
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=30)
    edit(tmp_path / "prompts" / "flow.yaml", *BREAK)
    server = start()
    answered = 0
    try:
        for n in range(20):
            assert "9 9 9" in says(signed_call(base, n))
            answered += 1
        for worker in workers_of(server.pid):
            os.kill(worker, signal.SIGKILL)  # an OOM kill: gunicorn starts new workers on the broken files
        server.send_signal(signal.SIGHUP)  # a reload: every worker starts again
        deadline = time.monotonic() + 15
        n = 100
        while time.monotonic() < deadline:
            try:
                assert "9 9 9" in says(signed_call(base, n))
                answered += 1
            except OSError:
                time.sleep(0.05)  # between the old workers and the new, the socket queues or refuses
            n += 1
            if answered > 60 and len(workers_of(server.pid)) == 2:
                break
        health = urllib.request.urlopen(base + "/health", timeout=5).read().decode()
        assert '"status":"degraded"' in health.replace(" ", "") and "nowhere" in health
        assert server.poll() is None, "the gunicorn master exited"
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert "Worker failed to boot" not in output
    assert "serving the last good version" in output
    assert answered > 60


# --- ivr serve: SIGTERM finishes what is in flight ---------------------------------------------


def test_ivr_serve_finishes_requests_in_flight_and_keeps_every_event_on_sigterm(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), TWILIO_AUTH_TOKEN=TOKEN, IVR_SECRET_KEY="k" * 32)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "ivr", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_until_up(base, server)
        calls = 30
        for n in range(calls):
            signed_call(base, n)
        # A webhook still arriving when the stop comes: its body is only half sent.
        params = {"CallSid": "CA" + "7" * 32}
        body = urllib.parse.urlencode(params).encode()
        signature = sign(base + "/voice", params)["X-Twilio-Signature"]
        head = (
            f"POST /voice HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\nConnection: close\r\n\r\n"
        )
        late = socket.create_connection(("127.0.0.1", port))
        late.sendall(head.encode() + body[:10])
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        late.sendall(body[10:])
        answer = b""
        while chunk := late.recv(65536):
            answer += chunk
        late.close()
        assert answer.startswith(b"HTTP/1.1 200") and b"<Gather" in answer, answer[:200]
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    rows = (
        sqlite3.connect(tmp_path / "instance" / "ivr.sqlite3")
        .execute("SELECT COUNT(*) FROM journey_events WHERE event = 'call_started'")
        .fetchone()[0]
    )
    assert rows == calls + 1, output  # every call's start was written before the process ended
