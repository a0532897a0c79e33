"""Settings: one typed table, read once, booleans one way, and the README rendered from it."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from ivr import create_app
from ivr.cli import cli
from ivr.services import services
from ivr.settings import FALSE, TRUE, Settings, SettingsError, markdown
from tests.helpers.twilio import ROOT, TOKEN, sign


def test_the_readme_shows_every_setting_as_the_table_says() -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- settings:[^>]*-->\n(.*?)<!-- /settings -->", readme, re.S)
    assert found, "the README's configuration table is missing its markers"
    assert found.group(1) == markdown(), "render it again: python -m ivr.settings"


@pytest.mark.parametrize("word", [*TRUE, "ON", " Yes "])
def test_every_true_word_turns_a_switch_on(word: str) -> None:
    assert Settings.from_env({"IVR_PROXY_FIX": word}).proxy_fix is True


@pytest.mark.parametrize("word", [*FALSE, "OFF", " No "])
def test_every_false_word_turns_a_switch_off(word: str) -> None:
    settings = Settings.from_env({"IVR_PROXY_FIX": word, "IVR_JOURNEYS": word, "IVR_COOKIE_SECURE": word})
    assert (settings.proxy_fix, settings.journeys, settings.cookie_secure) == (False, False, False)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        (
            "IVR_PROXY_FIX",
            "maybe",
            "IVR_PROXY_FIX must be one of 1/true/yes/on or 0/false/no/off, not 'maybe'",
        ),  # noqa: E501
        ("IVR_JOURNEYS", "2", "IVR_JOURNEYS must be one of"),
        ("IVR_RETENTION_DAYS", "ninety", "IVR_RETENTION_DAYS must be a whole number, not 'ninety'"),
        ("IVR_TTS_BACKOFF", "-1", "IVR_TTS_BACKOFF must be a number of at least 0"),
        ("IVR_LOG_LEVEL", "LOUD", "IVR_LOG_LEVEL must be one of DEBUG, INFO"),
    ],
)
def test_a_value_that_cannot_be_used_stops_the_start_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(says)):
        Settings.from_env({name: value})
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["languages", "status"])
    assert result.exit_code == 1
    assert f"Error: {says}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("word", "trusted"), [("off", False), ("no", False), ("0", False), ("on", True)])
def test_proxy_fix_follows_its_switch(
    app_config, monkeypatch: pytest.MonkeyPatch, word: str, trusted: bool
) -> None:
    """Twilio signs the https URL; behind a proxy the request arrives as http with X-Forwarded-Proto."""
    monkeypatch.setenv("IVR_PROXY_FIX", word)
    app = create_app(app_config)
    assert services(app).settings.proxy_fix is trusted
    params = {"CallSid": "CA" + "0" * 32}
    headers = {"X-Forwarded-Proto": "https", **sign("https://localhost/voice", params, TOKEN)}
    answer = app.test_client().post("/voice", data=params, headers=headers)
    assert answer.status_code == (200 if trusted else 403)


def test_switches_read_the_same_in_every_part(app_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_JOURNEYS", "off")
    monkeypatch.setenv("IVR_COOKIE_SECURE", "off")
    app = create_app(app_config)
    assert services(app).journeys is None
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_a_missing_prompts_folder_is_named_with_what_to_set(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVR_PROMPTS_DIR", raising=False)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "no call flow found" in result.output and "set IVR_PROMPTS_DIR" in result.output
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(tmp_path / "elsewhere"))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert f"IVR_PROMPTS_DIR={tmp_path / 'elsewhere'} holds no flow.yaml" in result.output
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(ROOT / "prompts"))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
