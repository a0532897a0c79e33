"""Every setting of the line in one typed table, read from the environment once, at start.

Each setting has a name in the environment, a type, a default and a line of help; the README's
configuration table is rendered from this table (a test fails when they differ). Booleans are
read one way everywhere: `1/true/yes/on` or `0/false/no/off`, anything else refuses to start,
naming the setting. Nothing secret has a default in code.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

log = logging.getLogger(__name__)

TRUE = ("1", "true", "yes", "on")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FALSE = ("0", "false", "no", "off")


class SettingsError(Exception):
    """A setting that cannot be used; the message names it and says what to set."""


def _setting(env: str, default: Any, help: str, shown: str | None = None) -> Any:
    """Declare one setting: its environment name, default, help, and the default as the README shows it."""
    return field(default=default, metadata={"env": env, "help": help, "shown": shown})


@dataclass(frozen=True)
class Settings:
    """The line's settings, typed; `from_env` builds them, `table` describes them."""

    twilio_auth_token: str = _setting(
        "TWILIO_AUTH_TOKEN",
        "",
        "when set, every `/voice` request needs a valid `X-Twilio-Signature` (403 otherwise)",
        "unset: requests are not verified, and the service says so at start-up",
    )
    twilio_account_sid: str = _setting(
        "TWILIO_ACCOUNT_SID",
        "",
        "the Twilio account (`AC…`) that `ivr twilio` and `ivr doctor` look the number up in",
        "unset: `ivr twilio` cannot reach the account",
    )
    twilio_phone_number: str = _setting(
        "TWILIO_PHONE_NUMBER",
        "",
        "the line's Twilio number (E.164) that `ivr doctor` checks points here",
        "unset: `ivr doctor --number` gives it",
    )
    twilio_api_key: str = _setting(
        "TWILIO_API_KEY",
        "",
        "an API key (`SK…`) for `ivr twilio`, instead of the auth token (with `TWILIO_API_SECRET`)",
        "unset: the auth token is used",
    )
    twilio_api_secret: str = _setting("TWILIO_API_SECRET", "", "the secret of `TWILIO_API_KEY`", "unset")
    proxy_fix: bool = _setting(
        "IVR_PROXY_FIX",
        False,
        "`1` behind a TLS-terminating proxy: trust one hop's `X-Forwarded-Proto`/`Host` so signatures "
        "match the https URL",
    )
    secret_key: str = _setting(
        "IVR_SECRET_KEY",
        "",
        "signs admin sessions and keys the hash that stands in for a call's id",
        "a random key generated once in the instance folder (`secret_key`)",
    )
    caller_id: str = _setting(
        "IVR_CALLER_ID",
        "",
        "the caller ID Refuge sees on a transfer (E.164)",
        "this line's own number (the `To` of the call)",
    )
    prompts_dir: Path = _setting(
        "IVR_PROMPTS_DIR",
        Path("prompts"),
        "the folder of `flow.yaml` and the catalogues",
        "`prompts/` in the working folder",
    )
    audio_dir: Path = _setting(
        "IVR_AUDIO_DIR", Path("audio"), "prompt audio and its manifest", "`audio/` in the working folder"
    )
    instance_dir: Path = _setting(
        "IVR_INSTANCE_DIR",
        Path("instance"),
        "this installation's own files: the generated secret key, the SQLite database",
        "`instance/` in the working folder",
    )
    database_url: str = _setting(
        "IVR_DATABASE_URL",
        "",
        "SQLAlchemy URL of the journey store and accounts",
        "SQLite in the instance folder",
    )
    public_url: str = _setting(
        "IVR_PUBLIC_URL",
        "",
        "the https base URL Twilio reaches this service at; `<Play>` URLs start with it",
        "the URL of the request being answered",
    )
    cookie_secure: bool = _setting(
        "IVR_COOKIE_SECURE",
        True,
        "`0` lets the admin console's session cookie travel over plain http (local use only)",
        "`1`: https only",
    )
    admin_login_limit: str = _setting(
        "IVR_ADMIN_LOGIN_LIMIT", "10 per minute", "sign-in attempts allowed per address (a `limits` rule)"
    )
    admin_account_limit: str = _setting(
        "IVR_ADMIN_ACCOUNT_LIMIT",
        "5 per minute; 30 per day",
        "failed sign-ins allowed per account, from any address (a `limits` rule)",
    )
    session_hours: float = _setting(
        "IVR_SESSION_HOURS", 12.0, "how long a console sign-in lasts at most, in hours, however busy"
    )
    idle_minutes: float = _setting(
        "IVR_IDLE_MINUTES", 30.0, "a console sign-in left unused this many minutes ends"
    )
    admin_upload_bytes: int = _setting(
        "IVR_ADMIN_UPLOAD_BYTES",
        20 * 1024 * 1024,
        "the largest prompt recording the console accepts, in bytes",
        "`20971520` (20 MB)",
    )
    admin_limit_storage: str = _setting(
        "IVR_ADMIN_LIMIT_STORAGE",
        "memory://",
        "where sign-in attempts are counted (`memory://`, or `redis://…` for several workers)",
    )
    journeys: bool = _setting("IVR_JOURNEYS", True, "`0` switches journey recording off")
    console: bool = _setting(
        "IVR_CONSOLE",
        True,
        "`0` leaves the staff console (`/admin`) out of this process: the line's own instance in "
        "production, where the console runs apart (deploy/ivr-console.service)",
    )
    retention_days: int = _setting(
        "IVR_RETENTION_DAYS", 90, "how old journey events get before `ivr journeys purge` deletes them"
    )
    audit_retention_days: int = _setting(
        "IVR_AUDIT_RETENTION_DAYS",
        365,
        "how old audit log entries get before `ivr audit purge` deletes them",
    )
    tts_retries: int = _setting(
        "IVR_TTS_RETRIES",
        3,
        "how many times `ivr prompts render` tries a prompt again after a transient gTTS error",
    )
    tts_backoff: float = _setting("IVR_TTS_BACKOFF", 1.0, "seconds before the first retry; doubled each time")
    flow_reload_seconds: float = _setting(
        "IVR_FLOW_RELOAD_SECONDS",
        1.0,
        "how often each worker looks for edits to `prompts/` and changes to the audio manifest, in seconds",
    )
    metrics_token: str = _setting(
        "IVR_METRICS_TOKEN",
        "",
        "the bearer token Prometheus sends to scrape `/metrics`",
        "unset: `/metrics` is off (404)",
    )
    log_level: str = _setting(
        "IVR_LOG_LEVEL", "INFO", "the least important log lines written (`DEBUG`, `INFO`, `WARNING`, …)"
    )
    log_json: bool = _setting("IVR_LOG_JSON", False, "`1` writes each log line as one JSON object")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Read every setting from the environment, then apply overrides keyed by config name (tests)."""
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in fields(cls):
            env, key = item.metadata["env"], item.name.upper()
            if key in overrides:
                values[item.name] = coerce(env, types[item.name], overrides[key])
            elif environ.get(env, "") != "":
                values[item.name] = coerce(env, types[item.name], environ[env])
        found = cls(**values)
        # Paths are fixed at start: a later change of working folder must not move them.
        return replace(
            found,
            prompts_dir=found.prompts_dir.absolute(),
            audio_dir=found.audio_dir.absolute(),
            instance_dir=found.instance_dir.absolute(),
        )

    def __post_init__(self) -> None:
        if self.log_level.upper() not in LOG_LEVELS:
            levels = ", ".join(LOG_LEVELS)
            raise SettingsError(f"IVR_LOG_LEVEL must be one of {levels}, not {self.log_level!r}")

    def config(self) -> dict[str, Any]:
        """Return the settings as Flask config entries (PROMPTS_DIR, SECRET_KEY, …)."""
        return {item.name.upper(): getattr(self, item.name) for item in fields(self)}

    def with_secret(self) -> Settings:
        """Return these settings with a secret key: IVR_SECRET_KEY, else one kept in the instance folder."""
        return self if self.secret_key else replace(self, secret_key=instance_secret(self.instance_dir))


def coerce(name: str, kind: Any, value: Any) -> Any:
    """Turn a raw value into a setting's type; SettingsError naming the setting if it cannot be."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise SettingsError(f"{name} must be one of {'/'.join(TRUE)} or {'/'.join(FALSE)}, not {value!r}")
    if kind is int or kind is float:
        try:
            number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{name} must be a {'whole ' if kind is int else ''}number, not {value!r}"
            ) from None
        if number < 0 or isinstance(value, bool):
            raise SettingsError(f"{name} must be a number of at least 0, not {value!r}")
        return number
    if kind is Path:
        return Path(value)
    return str(value)


@dataclass(frozen=True)
class Row:
    """One setting as the README shows it."""

    name: str
    help: str
    default: str


def table() -> list[Row]:
    """Return every setting: its environment name, what it does, and its default."""
    rows = []
    for item in fields(Settings):
        shown = item.metadata["shown"]
        if shown is None:
            default = item.default
            if isinstance(default, bool):
                default = int(default)
            shown = f"`{default}`"
        rows.append(Row(item.metadata["env"], item.metadata["help"], shown))
    return rows


def markdown() -> str:
    """Render the settings as the README's configuration table."""
    lines = ["| setting | meaning | default |", "| --- | --- | --- |"]
    lines += [f"| `{row.name}` | {row.help} | {row.default} |" for row in table()]
    return "\n".join(lines) + "\n"


def instance_secret_path(instance: Path) -> Path:
    """Return where the key generated for an installation without IVR_SECRET_KEY is kept."""
    return instance / "secret_key"


def instance_secret(instance: Path) -> str:
    """Use a random key kept in the instance folder when IVR_SECRET_KEY is not set.

    Generated once per installation, never written in code; production sets IVR_SECRET_KEY.
    """
    path = instance_secret_path(instance)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    log.warning("IVR_SECRET_KEY is not set: using a random key kept in %s", path)
    return key


def prompts_folder(settings: Settings) -> Path:
    """Return the prompts folder, or SettingsError saying what to set when there is none."""
    folder = settings.prompts_dir
    if (folder / "flow.yaml").is_file():
        return folder
    if folder != Path("prompts").absolute():
        raise SettingsError(
            f"IVR_PROMPTS_DIR={folder} holds no flow.yaml: point it at the folder of flow.yaml"
        )
    raise SettingsError(
        f"no call flow found: {folder.resolve()}/flow.yaml does not exist. Run from the folder that holds "
        "prompts/, or set IVR_PROMPTS_DIR to the folder of flow.yaml and the catalogues."
    )


def database_url(settings: Settings) -> str:
    """Return the configured SQLAlchemy URL, else a SQLite file in the instance folder."""
    if settings.database_url:
        return settings.database_url
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.instance_dir / 'ivr.sqlite3'}"


if __name__ == "__main__":  # pragma: no cover - `python -m ivr.settings` prints the README's table
    print(markdown(), end="")
