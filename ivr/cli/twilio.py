"""`ivr twilio connect|status`: point the line's Twilio number at this service, and check where it points.

Through twilio's own REST client, with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or an API key
pair, TWILIO_API_KEY and TWILIO_API_SECRET). Only the number's voice settings are read or
changed: the URL Twilio asks when a call comes in, the one it asks when that fails, and the
status callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
import requests
from flask.cli import AppGroup
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ..services import services
from ..settings import Settings

twilio_cli = AppGroup("twilio", help="The line's Twilio number: where it points, and pointing it here.")

# What each voice setting of the number must be, relative to the service's public URL.
PATHS = {"voice_url": "/voice", "voice_fallback_url": "/voice/fallback", "status_callback": "/voice/status"}
METHODS = {
    "voice_url": "voice_method",
    "voice_fallback_url": "voice_fallback_method",
    "status_callback": "status_callback_method",
}
LABELS = {
    "voice_url": "A call comes in",
    "voice_fallback_url": "Primary handler fails",
    "status_callback": "Call status changes",
}


class AccountError(Exception):
    """The account cannot be reached or the number is not on it; the message says why in one line."""


@dataclass(frozen=True)
class Setting:
    """One of the number's voice settings: what it is now and what this service needs."""

    name: str
    url: str
    method: str
    wanted_url: str

    @property
    def right(self) -> bool:
        """Tell whether Twilio asks this service here, by POST."""
        return self.url == self.wanted_url and self.method.upper() == "POST"

    def describe(self) -> str:
        """Say it as the Twilio console names it, with its URL and method."""
        return f"{LABELS[self.name]}: {self.method or 'POST'} {self.url or '(not set)'}"


@dataclass(frozen=True)
class Number:
    """A phone number on the account, as Twilio holds it."""

    sid: str
    phone_number: str
    friendly_name: str
    voice_application_sid: str
    settings: tuple[Setting, ...]

    @property
    def points_here(self) -> bool:
        """Tell whether every voice setting asks this service, with no TwiML app in the way."""
        return not self.voice_application_sid and all(s.right for s in self.settings)


def client(settings: Settings) -> Client:
    """Return twilio's REST client for the configured account; AccountError naming what is missing."""
    sid = settings.twilio_account_sid
    if not sid:
        raise AccountError(
            "set TWILIO_ACCOUNT_SID (the account's AC… id, on the Twilio console's front page)"
        )
    if settings.twilio_api_key and settings.twilio_api_secret:
        return Client(settings.twilio_api_key, settings.twilio_api_secret, sid)
    if not settings.twilio_auth_token:
        raise AccountError("set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET")
    return Client(sid, settings.twilio_auth_token)


def base_url(url: str | None, settings: Settings) -> str:
    """Return the service's public https base URL: --url, else IVR_PUBLIC_URL; UsageError if neither."""
    found = (url or settings.public_url or "").rstrip("/")
    if not found:
        raise click.UsageError("give --url https://your.host (or set IVR_PUBLIC_URL)")
    if not found.startswith("https://"):
        raise click.UsageError(f"{found} is not an https URL: Twilio must reach the line over https")
    return found


def find(api: Client, phone_number: str, base: str) -> Number:
    """Look a number up on the account; AccountError if it is not there or the account refuses."""
    try:
        found = api.incoming_phone_numbers.list(phone_number=phone_number, limit=2)
    except (requests.RequestException, TwilioException) as exc:
        raise AccountError(_refused(exc)) from None
    if not found:
        raise AccountError(f"{phone_number} is not a number on this account")
    return _number(vars(found[0]), base)


def _number(payload: dict[str, Any], base: str) -> Number:
    return Number(
        sid=str(payload.get("sid") or ""),
        phone_number=str(payload.get("phone_number") or ""),
        friendly_name=str(payload.get("friendly_name") or ""),
        voice_application_sid=str(payload.get("voice_application_sid") or ""),
        settings=tuple(
            Setting(name, str(payload.get(name) or ""), str(payload.get(METHODS[name]) or ""), base + path)
            for name, path in PATHS.items()
        ),
    )


def _refused(exc: Exception) -> str:
    """Say in one line why Twilio's API did not answer: a request error, or its HTTP status."""
    if isinstance(exc, requests.RequestException):
        return f"Twilio cannot be reached: {type(exc).__name__}"
    # A list answers TwilioException("Unable to fetch page", response); an update TwilioRestException.
    status = (
        exc.status if isinstance(exc, TwilioRestException) else getattr(_response(exc), "status_code", None)
    )
    if status == 401:
        return (
            "Twilio refused the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or the API key)"
        )
    if status == 404:
        return "Twilio knows no such account or number: check TWILIO_ACCOUNT_SID"
    return f"Twilio answered {status or 'with an error'}: {exc}"


def _response(exc: Exception) -> object:
    return next((a for a in exc.args if hasattr(a, "status_code")), None)


def point_here(api: Client, number: Number) -> None:
    """Set the number's voice URL, fallback URL and status callback to this service, all by POST."""
    changes: dict[str, str] = {"voice_application_sid": ""}
    for setting in number.settings:
        changes[setting.name] = setting.wanted_url
        changes[METHODS[setting.name]] = "POST"
    try:
        api.incoming_phone_numbers(number.sid).update(**changes)
    except (requests.RequestException, TwilioException) as exc:
        raise AccountError(_refused(exc)) from None


def _lookup(phone_number: str, url: str | None) -> tuple[Client, Number]:
    settings = services().settings
    base = base_url(url, settings)
    try:
        api = client(settings)
        return api, find(api, phone_number, base)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@twilio_cli.command("status")
@click.argument("phone_number")
@click.option("--url", help="The service's public https base URL [default: IVR_PUBLIC_URL].")
def status(phone_number: str, url: str | None) -> None:
    """Show where a Twilio number's calls go now, and whether that is this service."""
    _, number = _lookup(phone_number, url)
    click.echo(f"{number.phone_number} ({number.friendly_name or number.sid})")
    for setting in number.settings:
        click.echo(f"  {'ok ' if setting.right else 'NOT'} {setting.describe()}")
    if number.voice_application_sid:
        click.echo(
            f"  NOT a TwiML app ({number.voice_application_sid}) answers its calls instead of the URLs"
        )
    if not number.points_here:
        click.echo("It does not point at this service: run `ivr twilio connect` to point it here.")
        raise SystemExit(1)
    click.echo("It points at this service.")


@twilio_cli.command("connect")
@click.argument("phone_number")
@click.option("--url", help="The service's public https base URL [default: IVR_PUBLIC_URL].")
@click.option("--dry-run", is_flag=True, help="Only print what would change.")
@click.option("--yes", is_flag=True, help="Change it without asking.")
def connect(phone_number: str, url: str | None, dry_run: bool, yes: bool) -> None:
    """Point a Twilio number's calls at this service: /voice, /voice/fallback and /voice/status, by POST."""
    api, number = _lookup(phone_number, url)
    if number.points_here:
        click.echo(f"{number.phone_number} already points at this service; nothing to change.")
        return
    click.echo(f"{number.phone_number} ({number.friendly_name or number.sid}):")
    for setting in number.settings:
        if not setting.right:
            wanted = f"POST {setting.wanted_url}"
            now = f"{setting.method or 'POST'} {setting.url or '(not set)'}"
            click.echo(f"  {LABELS[setting.name]}: {now} -> {wanted}")
    if number.voice_application_sid:
        click.echo(f"  TwiML app {number.voice_application_sid} -> none (the URLs above answer instead)")
    if dry_run:
        click.echo("(dry run: nothing changed)")
        return
    if not yes and not click.confirm("Change it?", default=False):
        raise SystemExit(1)
    try:
        point_here(api, number)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{number.phone_number} now points at this service.")
