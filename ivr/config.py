"""Settings from the environment (IVR_*, TWILIO_AUTH_TOKEN), with defaults for local use."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "PROMPTS_DIR": str(ROOT / "prompts"),
    "AUDIO_DIR": str(ROOT / "audio"),
    "TWILIO_AUTH_TOKEN": "",
    "PROXY_FIX": 0,
    "CALLER_ID": "",
    "DATABASE_URL": "",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "FLOW_RELOAD_SECONDS": 1.0,
}


def prompts_dir() -> Path:
    """Return the folder of flow.yaml and the catalogues, as `ivr check` finds it without an app."""
    return Path(os.environ.get("IVR_PROMPTS_DIR") or DEFAULTS["PROMPTS_DIR"])


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config: defaults, then IVR_* from the environment, then test overrides."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("IVR")
    app.config["TWILIO_AUTH_TOKEN"] = os.environ.get("TWILIO_AUTH_TOKEN", "")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")


def _instance_secret(instance: Path) -> str:
    """Use a random key kept in the instance folder when IVR_SECRET_KEY is not set.

    Generated once per installation, never written in code; production sets IVR_SECRET_KEY.
    """
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    log.warning("IVR_SECRET_KEY is not set: using a random key kept in %s", path)
    return key
