"""`ivr doctor`: is this installation ready to take real calls? Each check ok, warn or fail, with the fix."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator

from .. import db
from ..admin import users
from ..checks import load
from ..flow.languages import availability
from ..flow.queries import declared_languages
from ..journeys.tables import lost_between
from ..logs import describe
from ..services import Services, services
from ..settings import instance_secret_path
from .twilio import AccountError, client, find

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Finding:
    """One thing the doctor looked at: how it stands, and what to do about it."""

    level: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.level:<4} {self.what}" + (f"\n     -> {self.fix}" if self.fix else "")


Check = Callable[[Services, "str | None"], Iterator[Finding]]


def twilio_token(found: Services, _: str | None) -> Iterator[Finding]:
    """Webhooks are only trusted when Twilio's signature is checked."""
    if found.settings.twilio_auth_token:
        yield Finding(OK, "TWILIO_AUTH_TOKEN is set: every /voice request must carry Twilio's signature")
    else:
        yield Finding(
            FAIL,
            "TWILIO_AUTH_TOKEN is not set: anyone can send the line requests",
            "set it to the account's auth token",
        )


def secret_key(found: Services, _: str | None) -> Iterator[Finding]:
    """Sessions and call keys need a secret that every instance shares and nobody else has."""
    settings = found.settings
    generated = instance_secret_path(settings.instance_dir)
    if not settings.secret_key or (
        generated.is_file() and generated.read_text().strip() == settings.secret_key
    ):
        yield Finding(
            FAIL,
            "IVR_SECRET_KEY is not set: a key generated on this machine signs sessions and call keys",
            "set IVR_SECRET_KEY to a long random value, the same on every instance "
            "(python3 -c 'import secrets; print(secrets.token_hex(32))')",
        )
    elif len(settings.secret_key) < 32:
        yield Finding(WARN, "IVR_SECRET_KEY is short", "use at least 32 random characters")
    else:
        yield Finding(OK, "IVR_SECRET_KEY is set")


def signed_request(found: Services, _: str | None) -> Iterator[Finding]:
    """A request signed for the public URL, sent there, must verify: catches a proxy the line ignores."""
    settings = found.settings
    public = settings.public_url.rstrip("/")
    if not public:
        yield Finding(
            FAIL, "IVR_PUBLIC_URL is not set", "set it to the https address Twilio reaches the line at"
        )
        return
    if not public.startswith("https://"):
        yield Finding(WARN, f"IVR_PUBLIC_URL {public} is not https", "Twilio must reach the line over https")
    if not settings.twilio_auth_token:
        return
    url = f"{public}/voice/fallback"
    params = {"CallSid": "CA" + "0" * 32, "CallStatus": "ringing"}
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(url, params)
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), headers={"X-Twilio-Signature": signature}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answered = answer.status
    except urllib.error.HTTPError as error:
        answered = error.code
    except (OSError, ValueError) as error:
        yield Finding(
            FAIL,
            f"{url} cannot be reached from here: {error}",
            "start the service, and check DNS, TLS and the proxy",
        )
        return
    if answered == 200:
        yield Finding(OK, f"a request signed for {url} is answered there")
    elif answered == 403:
        hint = "behind a TLS proxy, set IVR_PROXY_FIX=1 and have the proxy send X-Forwarded-Proto and Host"
        yield Finding(FAIL, f"a request signed for {url} is refused there: the line sees another URL", hint)
    else:
        yield Finding(FAIL, f"{url} answered {answered}", "check the proxy forwards to the line")


def flow_rules(found: Services, _: str | None) -> Iterator[Finding]:
    """The flow on disk passes the caller's rules, and the line serves it."""
    flow, problems = load(found.live.prompts_dir)
    if problems or flow is None:
        yield Finding(
            FAIL,
            f"the flow in {found.live.prompts_dir} breaks {len(problems)} rule(s), e.g. {problems[0]}",
            "run `ivr check` and fix what it lists",
        )
    else:
        yield Finding(OK, f"flow {flow.version} passes every rule ({len(flow.nodes)} nodes)")


def languages(found: Services, _: str | None) -> Iterator[Finding]:
    """Every declared language can be played: by its <Say> voice, or fresh audio for every prompt."""
    flow = found.live.current().flow
    present = found.audio.present(flow)
    for lang in declared_languages(flow):
        avail = availability(flow, lang, present)
        if avail.offered:
            yield Finding(OK, f"{lang} is offered ({avail.reason.removeprefix('offered: ')})")
        else:
            yield Finding(
                WARN,
                f"{lang} is not offered: {avail.reason}",
                f"`ivr prompts status --lang {lang}` lists what it needs",
            )


def audio(found: Services, _: str | None) -> Iterator[Finding]:
    """Prompts play from fresh audio where there is some; stale audio is never played."""
    flow = found.live.current().flow
    rows = found.audio.status(flow, flow.default_language)
    stale = [r.prompt_id for r in rows if r.state == "stale"]
    if stale:
        yield Finding(
            WARN,
            f"{len(stale)} {flow.default_language} prompt(s) have stale audio, e.g. {stale[0]}",
            "`ivr prompts render`, or record them again",
        )
    else:
        yield Finding(OK, f"no stale audio in {flow.default_language}")


def database(found: Services, _: str | None) -> Iterator[Finding]:
    """The journey store and accounts: reachable, with every table and column this version needs."""
    try:
        inspector = inspect(found.engine)
        missing = [name for name in db.metadata.tables if not inspector.has_table(name)]
        for name, table in db.metadata.tables.items():
            if name in missing:
                continue
            have = {c["name"] for c in inspector.get_columns(name)}
            missing += [f"{name}.{c.name}" for c in table.columns if c.name not in have]
    except SQLAlchemyError as error:
        yield Finding(
            FAIL,
            f"the database cannot be reached: {describe(error)}",
            "check IVR_DATABASE_URL and the server",
        )
        return
    if missing:
        yield Finding(FAIL, f"the database lacks {', '.join(missing)}", "run `ivr db upgrade`")
    else:
        yield Finding(
            OK, f"the database is reachable and its schema is current ({found.engine.dialect.name})"
        )


def journeys(found: Services, _: str | None) -> Iterator[Finding]:
    """The journey store keeps up: no events lost in the last day."""
    if found.journeys is None:
        yield Finding(WARN, "journey recording is off (IVR_JOURNEYS=0): no figures on where callers go")
        return
    try:
        with found.engine.connect() as connection:
            lost = lost_between(connection, date.today() - timedelta(days=1), None)
    except SQLAlchemyError:
        return  # said above, by the database check
    total = sum(lost.values())
    if total:
        detail = ", ".join(f"{reason} {n}" for reason, n in lost.items() if n)
        yield Finding(
            WARN,
            f"{total} journey event(s) lost in the last day ({detail})",
            "check the database's server and load",
        )
    else:
        yield Finding(OK, "no journey events lost in the last day")


def accounts(found: Services, _: str | None) -> Iterator[Finding]:
    """Someone can sign in to the console to review the flow and change prompts."""
    try:
        admins = [u for u in users.all_users(found.engine) if u.role == "admin"]
    except SQLAlchemyError:
        return  # said above, by the database check
    if admins:
        yield Finding(OK, f"{len(admins)} admin account(s)")
    else:
        yield Finding(FAIL, "no admin account", "ivr users add NAME --role admin")


def number(found: Services, phone_number: str | None) -> Iterator[Finding]:
    """With the account's credentials, the line's number sends its calls here."""
    settings = found.settings
    if not phone_number:
        yield Finding(WARN, "no number given: where it points was not checked", "ivr doctor --number +44…")
        return
    if not settings.twilio_account_sid:
        yield Finding(
            WARN, "TWILIO_ACCOUNT_SID is not set: where the number points was not checked", "set it to check"
        )
        return
    try:
        found_number = find(client(settings), phone_number, settings.public_url.rstrip("/"))
    except AccountError as error:
        yield Finding(FAIL, str(error))
        return
    if found_number.points_here:
        yield Finding(OK, f"{phone_number} sends its calls, failures and status to this service")
    else:
        yield Finding(
            FAIL, f"{phone_number} does not point at this service", f"ivr twilio connect {phone_number}"
        )


CHECKS: tuple[Check, ...] = (
    twilio_token,
    secret_key,
    signed_request,
    flow_rules,
    languages,
    audio,
    database,
    accounts,
    number,
)


@click.command("doctor")
@click.option(
    "--number",
    "phone_number",
    metavar="+44…",
    help="The line's Twilio number [default: TWILIO_PHONE_NUMBER].",
)
@with_appcontext
def doctor(phone_number: str | None) -> None:
    """Say whether this installation is ready to take real calls; exit 1 on any failure."""
    found = services()
    phone_number = phone_number or found.settings.twilio_phone_number or None
    findings = [finding for check in CHECKS for finding in check(found, phone_number)]
    for finding in findings:
        click.echo(str(finding))
    failed = sum(1 for f in findings if f.level == FAIL)
    warned = sum(1 for f in findings if f.level == WARN)
    click.echo(f"{'NOT ready' if failed else 'ready'}: {failed} failed, {warned} warning(s)")
    if failed:
        raise SystemExit(1)
