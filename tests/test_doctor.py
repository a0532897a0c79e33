"""`ivr doctor` and `ivr twilio connect`: going live as the README's checklist has an operator do it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from ivr import create_app
from ivr.cli import cli
from tests.helpers.production import production
from tests.helpers.twilio import TOKEN
from tests.test_twilio_account import ACCOUNT, LIST, NUMBER, UPDATE, number_payload, page


def doctor(app):
    return app.test_cli_runner().invoke(cli, ["doctor", "--number", NUMBER])


def lines(output: str, level: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(level)]


def test_going_live_from_a_fresh_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"sqlite:///{tmp_path / 'line.sqlite3'}"
    with production(tmp_path, IVR_DATABASE_URL=database) as line, responses.RequestsMock() as twilio:
        # The four variables of the checklist, as the service has them (and the CA that signed its TLS).
        for name, value in {
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "IVR_SECRET_KEY": "k" * 32,
            "IVR_PUBLIC_URL": line.url,
            "IVR_DATABASE_URL": database,
            "IVR_PROMPTS_DIR": str(tmp_path / "prompts"),
            "SSL_CERT_FILE": str(line.cert),
        }.items():
            monkeypatch.setenv(name, value)
        twilio.add_passthru(line.url)
        where = {"voice_url": "https://demo.twilio.com/welcome/voice/"}

        def listing(_request):  # the number as it stands on the account now
            return 200, {}, json.dumps(page(number_payload(**where)))

        def update(request):
            sent = parse_qs(request.body)
            where.update(
                voice_url=sent["VoiceUrl"][0],
                voice_fallback_url=sent["VoiceFallbackUrl"][0],
                status_callback=sent["StatusCallback"][0],
            )
            return 200, {}, json.dumps(number_payload(**where))

        twilio.add_callback(responses.GET, LIST, callback=listing)
        twilio.add_callback(responses.POST, UPDATE, callback=update)

        app = create_app()
        first = doctor(app)
        assert first.exit_code == 1, first.output
        failed = "\n".join(lines(first.output, "FAIL"))
        assert "is refused there: the line sees another URL" in failed  # IVR_PROXY_FIX is missing
        assert "set IVR_PROXY_FIX=1" in first.output
        assert "no admin account" in failed and "ivr users add NAME --role admin" in first.output
        assert f"{NUMBER} does not point at this service" in failed
        assert f"ivr twilio connect {NUMBER}" in first.output
        assert "NOT ready" in first.output

        # The fixes, as the doctor said them.
        line.start_line(IVR_PROXY_FIX="1", IVR_DATABASE_URL=database)
        runner = app.test_cli_runner()
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        add = ["users", "add", "ada", "--role", "admin", "--password-stdin"]
        added = runner.invoke(cli, add, input="a passphrase of some length\n")
        assert added.exit_code == 0, added.output
        connected = runner.invoke(cli, ["twilio", "connect", NUMBER, "--yes"])
        assert connected.exit_code == 0, connected.output

        last = doctor(app)
        assert last.exit_code == 0, last.output
        assert not lines(last.output, "FAIL")
        assert "ready: 0 failed" in last.output
        assert f"{NUMBER} sends its calls, failures and status to this service" in last.output


def test_the_doctor_names_a_generated_secret_and_a_missing_token(app_config, monkeypatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    app = create_app({**app_config, "SECRET_KEY": "", "TWILIO_AUTH_TOKEN": ""})
    result = app.test_cli_runner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    failed = "\n".join(lines(result.output, "FAIL"))
    assert "TWILIO_AUTH_TOKEN is not set" in failed
    assert "IVR_SECRET_KEY is not set" in failed
    assert "IVR_PUBLIC_URL is not set" in failed
