"""Blueprint /voice: Twilio's webhooks. Thin: read the request, step the flow, return TwiML."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qsl

from flask import Blueprint, Response, abort, request
from werkzeug.datastructures import MultiDict

from .. import metrics
from ..flow.speech import speech_key
from ..journeys.events import FINAL_CALL_STATUSES, SIMULATED, Event, step_events
from ..journeys.store import JourneyStore
from ..services import services
from . import signatures
from .live import Live
from .retries import RETRY_TOKEN_HEADER
from .simulator import SIMULATED_HEADER
from .twiml import State, dial_step, parse_key, step
from .twiml import Step as FlowStep

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger(__name__)
# The retry token as WSGI names the header: read straight from the environ on every answer.
RETRY_TOKEN_ENVIRON = "HTTP_" + RETRY_TOKEN_HEADER.upper().replace("-", "_")

METHODS = ["GET", "POST"]

# What Twilio reports in DialCallStatus when a <Dial> ends.
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
NODE_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
CALLER_ID = re.compile(r"^\+[1-9]\d{6,14}$")


@bp.before_request
def check_signature() -> None:
    """Refuse any request Twilio did not sign, whenever an auth token is configured."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # the request, not its proxy
    req.environ["ivr.began"] = time.perf_counter()
    validator = services().validator
    if validator is None:
        return
    signature = req.environ.get("HTTP_X_TWILIO_SIGNATURE", "")
    params = _form() if req.method == "POST" else MultiDict()
    if not signature or not signatures.valid(validator, req, params, signature):
        log.warning(
            "refused a %s request to %s without a valid Twilio signature", request.method, request.path
        )
        metrics.SIGNATURES_REFUSED.inc()
        abort(403)


@bp.after_request
def timed(response: Response) -> Response:
    """Add how long the answer took to the webhook latency histogram."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # the request, not its proxy
    began, endpoint = req.environ.get("ivr.began"), req.endpoint
    if began is not None and endpoint:
        metrics.WEBHOOK_SECONDS.labels(endpoint.removeprefix("voice.")).observe(time.perf_counter() - began)
    return response


@bp.route("", methods=METHODS)
def incoming() -> Response:
    """Answer a new call with the greeting."""
    live = _live()
    lang = live.flow.default_language
    metrics.CALLS_STARTED.inc()
    if request.headers.get(SIMULATED_HEADER) == "1":
        _record(SIMULATED, node=None, lang=None)  # a rehearsal, not a caller: left out of the figures
    return _answer(FlowStep(live.flow.start, event="call_started"), lang, key=None)


@bp.route("/gather", methods=METHODS)
def gather() -> Response:
    """Act on the key a caller pressed, or on their silence."""
    live = _live()
    state = _state()
    key = parse_key(_value("Digits"))
    if not key and _value("SpeechResult"):
        key = _spoken_key(state)
    next_step = _withdrawn(step(live.flow, state, key, live.renderer.offered))
    slow = state.slow if next_step.slow is None else next_step.slow
    return _answer(next_step, next_step.lang or state.lang, key=key or None, at=state.node, slow=slow)


@bp.route("/dial", methods=METHODS)
def dial() -> Response:
    """Act on the outcome of a transfer."""
    live = _live()
    state = _state()
    status = _value("DialCallStatus", "")
    outcome = _word(status)
    node = live.flow.nodes.get(state.node)
    if node is not None and node.kind == "transfer":
        known = outcome if outcome in DIAL_STATUSES else "other"  # a label is one of a few words, never more
        metrics.TRANSFERS.labels(node.contact or "?", known).inc()
    return _answer(
        _withdrawn(dial_step(live.flow, state, status)),
        state.lang,
        key=None,
        at=state.node,
        outcome=outcome,
        slow=state.slow,
    )


@bp.route("/status", methods=METHODS)
def status() -> Response:
    """Accept Twilio's call status callback: note how the call ended."""
    duration = _value("CallDuration", "")
    call_status = _word(_value("CallStatus", ""))
    if call_status in FINAL_CALL_STATUSES:  # other callbacks (ringing, answered) are not an end
        metrics.CALLS_ENDED.labels(call_status).inc()
        _record(
            "ended",
            node=None,
            lang=None,
            outcome=call_status,
            duration=(
                int(duration) if duration.isascii() and duration.isdigit() and len(duration) < 8 else None
            ),
        )
    return Response(status=204)


@bp.route("/fallback", methods=METHODS)
def fallback() -> Response:
    """Always answer safe TwiML: the URL for Twilio's 'primary handler fails' setting."""
    return safe_twiml(reason="fallback_url")


def safe_twiml(lang: str | None = None, reason: str = "error") -> Response:
    """Return the 999 advice, the Refuge number and an offer to connect, as 200 TwiML."""
    metrics.SAFE_TWIML.labels(reason).inc()
    live = _live()
    text = live.safe.get(lang or "") or live.safe[live.flow.default_language]
    return Response(text, status=200, mimetype="text/xml")


def _answer(
    next_step: FlowStep,
    lang: str,
    key: str | None,
    at: str | None = None,
    outcome: str | None = None,
    slow: bool = False,
) -> Response:
    live = _live()
    caller_id = _caller_id() if live.flow.nodes[next_step.node].kind == "transfer" else None
    body = live.renderer.render(next_step, lang, caller_id, slow)
    journeys = services().journeys
    if journeys is not None:
        _record_steps(
            journeys,
            lambda: step_events(live.flow, next_step.node, next_step.event, lang, key, at, outcome),
        )
    return Response(body, mimetype="text/xml")


def _live() -> Live:
    """Return what serves this request: looked up once, so one request sees one flow throughout."""
    # Kept with the request, not in `g`: a request made inside another's app context (the console's
    # simulator, `ivr simulate`) shares that context's `g`.
    environ = request.environ
    found = environ.get("ivr.live")
    if found is None:
        found = environ["ivr.live"] = services().live.current()
    return found  # type: ignore[no-any-return]


def _form() -> MultiDict[str, str]:
    """Return Twilio's form, read once from the body (a webhook's form is small and flat)."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # the request, not its proxy
    environ = req.environ
    found = environ.get("ivr.form")
    if found is None:
        body = b""
        if req.method == "POST" and req.mimetype == "application/x-www-form-urlencoded":
            body = req.get_data(cache=True)  # MAX_CONTENT_LENGTH holds: a larger body is a 413
        found = environ["ivr.form"] = MultiDict(
            parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        )
    return found  # type: ignore[no-any-return]


def _firsts(key: str, values: Callable[[], MultiDict[str, str]]) -> dict[str, str]:
    """Return the first value of each parameter as a plain dict, built once per request.

    A MultiDict's `get` raises (and catches) an exception for every name that is absent, which
    costs more than the lookup; most of the names a webhook asks for are absent from its query.
    """
    environ = request.environ
    found = environ.get(key)
    if found is None:
        found = environ[key] = dict(values().items())
    return found  # type: ignore[no-any-return]


def _query() -> dict[str, str]:
    """Return the action URL's query parameters (the call's state: node, lang, counters)."""
    return _firsts("ivr.query", lambda: request.args)


def _value(name: str, default: str = "") -> str:
    """Return a parameter Twilio sent: in the action URL's query first, else in the form."""
    found = _query().get(name)
    return found if found is not None else _firsts("ivr.fields", _form).get(name, default)


def _state() -> State:
    live = _live()
    args = _query()
    node = args.get("node", "")
    lang = args.get("lang", "")
    return State(
        # No node, or a malformed one, is an unknown node: the call starts again from the greeting.
        node=node if NODE_ID.match(node) else "?",
        lang=lang if lang in live.renderer.offered else live.flow.default_language,
        silences=_small_int(args.get("s")),
        invalid=_small_int(args.get("i")),
        slow=args.get("slow") == "1",
    )


def _withdrawn(next_step: FlowStep) -> FlowStep:
    """Put the 999 advice first for a caller whose language was withdrawn mid-call (its audio is gone).

    They go on in the default language; before anything else they hear the 999 advice in it.
    """
    live = _live()
    asked = _query().get("lang", "")
    flow = live.flow
    if not asked or asked in live.renderer.offered or asked not in flow.voices or next_step.lang:
        return next_step
    target = flow.nodes.get(next_step.node)
    if flow.emergency_prompt in next_step.notices or (target and target.say[:1] == (flow.emergency_prompt,)):
        return next_step  # they hear it first anyway
    return replace(next_step, notices=(flow.emergency_prompt, *next_step.notices))


def _spoken_key(state: State) -> str:
    """Map a spoken answer to a key; the words themselves are never stored or logged."""
    live = _live()
    node = live.flow.nodes.get(state.node)
    if node is None:
        return "?"
    try:
        confidence = float(_value("Confidence", "0"))
    except ValueError:
        confidence = 0.0
    if not 0.0 <= confidence <= 1.0:
        confidence = 0.0
    speech = _value("SpeechResult", "")[:500]
    return speech_key(live.flow, node, state.lang, speech, confidence, live.renderer.offered)


def _small_int(value: str | None) -> int:
    return min(int(value), 1000) if value and value.isascii() and value.isdigit() and len(value) < 5 else 0


def _word(value: str) -> str:
    """Keep a Twilio status word only if it looks like one (it is stored and shown)."""
    value = value.strip().lower()
    return value if re.fullmatch(r"[a-z-]{1,20}", value) else "unknown"


def _caller_id() -> str | None:
    """Return the caller ID Refuge sees: the configured one, else this line's own number."""
    configured = services().settings.caller_id
    if configured:
        return configured
    to = _value("To", "")
    return to if CALLER_ID.match(to) else None


def _record(event: str, **fields: object) -> None:
    """Append one anonymous journey event; a failing store never reaches the caller."""
    journeys = services().journeys
    if journeys is not None:
        _record_steps(journeys, lambda: [(event, fields)])


def _record_steps(journeys: JourneyStore, steps: Callable[[], list[Event]]) -> None:
    """Append one answer's journey events; a failing store never reaches the caller."""
    token = request.environ.get(RETRY_TOKEN_ENVIRON, "")[:200]
    if token and not services().retries.first_time(token):
        return  # a retry of a webhook already answered (and counted) by this process
    try:
        events = steps()
    except Exception:  # noqa: BLE001 - the call must go on whatever the store does
        log.warning("journey events dropped", exc_info=True)
        return
    call_sid = _value("CallSid", "")
    for event, fields in events:
        try:
            journeys.record(call_sid, event, **fields)
        except Exception:  # noqa: BLE001 - the call must go on whatever the store does
            log.warning("journey event dropped", exc_info=True)
