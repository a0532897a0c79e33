"""/metrics: what monitoring scrapes, behind its token; and the alert rules shipped for it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ivr import create_app
from ivr.line.simulator import run
from tests.helpers.production import free_port, wait_until_up
from tests.helpers.reload import settled
from tests.helpers.twilio import ROOT, TOKEN

SCRAPER = "metrics-token-0123456789"
CALLER = "+447700900123"


@pytest.fixture
def monitored(app_config):
    return create_app({**app_config, "METRICS_TOKEN": SCRAPER})


def scrape(app) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {SCRAPER}"})
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert CALLER.lstrip("+") not in text and "CA" + "0" * 8 not in text  # no caller data, ever
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_simulated_call_and_its_transfer_show_in_the_figures(monitored) -> None:
    before = scrape(monitored)
    run(monitored, ["0", "busy"], token=TOKEN)  # straight to Refuge, who are busy
    after = scrape(monitored)
    assert value(after, "ivr_calls_started_total") == value(before, "ivr_calls_started_total") + 1
    busy = ("ivr_transfers_total", {"contact": "refuge", "status": "busy"})
    assert value(after, busy[0], **busy[1]) == value(before, busy[0], **busy[1]) + 1
    assert value(after, "ivr_webhook_seconds_count", endpoint="incoming") >= 1


def test_metrics_need_the_token_and_are_off_without_one(app, monitored) -> None:
    client = monitored.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert app.test_client().get("/metrics").status_code == 404  # no IVR_METRICS_TOKEN: not served


def test_a_refused_edit_and_the_safe_answer_are_counted(monitored, prompts_dir: Path) -> None:
    client = monitored.test_client()
    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("goto: learn_menu}", "goto: nowhere}"))
    settled(monitored)  # the watcher has judged the edit (and refused it)
    assert client.get("/health").get_json()["status"] == "degraded"
    client.post("/voice/fallback")  # unsigned: refused, and counted
    samples = scrape(monitored)
    assert value(samples, "ivr_flow_on_disk_refused") == 1
    assert value(samples, "ivr_flow_edits_refused_total") >= 1
    assert value(samples, "ivr_signatures_refused_total") >= 1


def metric_names(expression: str) -> set[str]:
    words = set(re.findall(r"\b(ivr_[a-z_]+)\b", expression))
    return {re.sub(r"_(total|bucket|count|sum)$", "", w) for w in words}


def test_every_alert_names_metrics_the_service_exports(monitored) -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {a["alert"] for a in alerts} >= {
        "RefugeTransfersFailing", "SafeAnswersServed", "RefusedFlowOnDisk", "JourneysDropping"
    }  # fmt: skip
    exported = {family.name for family in text_string_to_metric_families(monitored.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {SCRAPER}"}).get_data(as_text=True))}  # fmt: skip
    for alert in alerts:
        named = metric_names(alert["expr"])
        assert named, alert["alert"]
        assert named <= exported, (alert["alert"], named - exported)


def test_gunicorn_workers_are_summed(tmp_path: Path) -> None:
    """Under gunicorn (deploy config) every worker's calls count, whichever worker is scraped."""
    pytest.importorskip("gunicorn")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "PROMETHEUS_"))}
    env.update(PYTHONPATH=str(ROOT), IVR_SECRET_KEY="k" * 32, IVR_WORKERS="2", IVR_METRICS_TOKEN=SCRAPER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "ivr:create_app()"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_up(base)
        calls = 40
        for n in range(calls):  # a new connection each: the calls spread over both workers
            urllib.request.urlopen(base + "/voice", data=f"CallSid=CA{n:032d}".encode(), timeout=5).read()
        counts = set()
        for _ in range(6):
            request = urllib.request.Request(
                base + "/metrics", headers={"Authorization": f"Bearer {SCRAPER}"}
            )
            text = urllib.request.urlopen(request, timeout=5).read().decode()
            found = re.search(r"^ivr_calls_started_total (\S+)$", text, re.M)
            counts.add(float(found.group(1)) if found else 0.0)
        assert counts == {float(calls)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
