"""What an operator installs beside the service (deploy/): each file valid to its own tool, and documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.parts import missing
from tests.helpers.production import NGINX, site
from tests.helpers.twilio import ROOT

DEPLOY = ROOT / "deploy"


@pytest.mark.parametrize("path", sorted(p.name for p in DEPLOY.iterdir()))
def test_every_deploy_file_is_in_the_readme(path: str) -> None:
    assert f"deploy/{path}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", ["ivr.service", "ivr-console.service"])
def test_the_systemd_units_verify(tmp_path: Path, name: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing("systemd-analyze is missing: install Debian's systemd (.ci/run does)")
    checkout = tmp_path / "srv"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    for command in ("ivr", "gunicorn"):  # the unit names the checkout's own programs
        program = checkout / ".venv" / "bin" / command
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    unit = tmp_path / name
    unit.write_text((DEPLOY / name).read_text().replace("/srv/dvs-line", str(checkout)))
    done = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr
    text = unit.read_text()
    assert "User=ivr" in text and "ExecStartPre=" in text and "ivr db upgrade" in text


def test_the_line_and_the_console_run_apart() -> None:
    line, console = (_environment(DEPLOY / name) for name in ("ivr.service", "ivr-console.service"))
    assert line["IVR_CONSOLE"] == "0" and "IVR_CONSOLE" not in console  # the console only in its own unit
    assert (
        console["IVR_BIND"] == "127.0.0.1:8001"
        and "server 127.0.0.1:8001;" in (DEPLOY / "nginx.conf").read_text()
    )
    assert line["PROMETHEUS_MULTIPROC_DIR"] != console["PROMETHEUS_MULTIPROC_DIR"]  # each empties its own
    units = {name: (DEPLOY / name).read_text() for name in ("ivr.service", "ivr-console.service")}
    assert "Nice=10" in units["ivr-console.service"] and "Nice=" not in units["ivr.service"]


def _environment(unit: Path) -> dict[str, str]:
    pairs = [line.removeprefix("Environment=").split("=", 1) for line in unit.read_text().splitlines()]
    return {p[0]: p[1] for p in pairs if len(p) == 2 and p[0].isupper()}


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    if not Path(NGINX).exists():
        missing("nginx is missing: install Debian's nginx-light (.ci/run does)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    log_format = (DEPLOY / "nginx-log-format.conf").read_text()
    server = site(8443, 8080, 8000, cert, key, tmp_path)
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{\n{log_format}\n{server}}}\n"
    )
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = (DEPLOY / "nginx.conf").read_text()
    for directive in ("proxy_request_buffering on", "client_header_timeout", "Strict-Transport-Security"):
        assert directive in shipped


def test_the_gunicorn_config_is_the_one_the_readme_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # the config sets it for gunicorn: not for this run
    namespace: dict[str, object] = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    assert namespace["worker_class"] == "gthread" and namespace["bind"] == "127.0.0.1:8000"
    assert namespace["forwarded_allow_ips"] == ""  # only IVR_PROXY_FIX decides whom to trust
    assert namespace["worker_tmp_dir"] == "/dev/shm"  # the workers' heartbeat never waits for a disk
    assert "%(U)s" in str(namespace["access_log_format"]) and "%(r)s" not in str(
        namespace["access_log_format"]
    )
