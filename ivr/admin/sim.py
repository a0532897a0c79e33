"""The call simulator: a keypad page whose every step is a signed request to the real /voice."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import BadRequest

from ..line.simulator import DIAL_OUTCOMES, Call, Turn
from ..line.twiml import KEYS
from ..services import services
from .console import bp

SID = re.compile(r"^CA[0-9a-f]{32}$")
PENDING = re.compile(r"^/voice/(gather|dial)\?[A-Za-z0-9_=&%.+-]{0,300}$")
OUTCOMES = ("answered", "busy", "no-answer", "failed")
SHOWN_PARAMS = ("Digits", "SpeechResult", "DialCallStatus", "CallStatus")


@bp.get("/simulator")
def simulator() -> str:
    """Show the keypad, the transcript and each step's TwiML."""
    live = services().live.current()
    return render_template(
        "admin/simulator.html",
        keys=["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"],
        outcomes=OUTCOMES,
        version=live.flow.version,
        signed=bool(services().settings.twilio_auth_token),
    )


@bp.post("/api/sim")
def sim_step() -> Any:
    """Play one step of a simulated call; the browser keeps the call's state (its pending URLs)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object")
    action = body.get("action")
    # Sent as if to this console's own host, so that audio URLs in the answers play in this page.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    call = Call(app, base_url=request.host_url.rstrip("/"))
    sid = str(body.get("sid") or "")
    if SID.match(sid):
        call.sid = sid
    if action == "start":
        turn = call.start()
    elif action in ("press", "silence", "speak"):
        call.turns.append(_pending(gather_action=_url(body.get("gather"), "gather")))
        if action == "silence":
            turn = call.silence()
        elif action == "speak":
            words = str(body.get("words") or "").strip()
            if not words or len(words) > 200:
                raise BadRequest("say one to 200 characters")
            turn = call.speak(words)
        else:
            key = str(body.get("key") or "")
            if len(key) != 1 or key not in KEYS:
                raise BadRequest("a key is one of 0-9, * and #")
            turn = call.press(key)
    elif action == "dial":
        outcome = str(body.get("outcome") or "")
        if outcome not in DIAL_OUTCOMES:
            raise BadRequest(f"the outcome is one of: {', '.join(OUTCOMES)}")
        call.turns.append(_pending(dial_action=_url(body.get("dial"), "dial")))
        turn = call.dial_outcome(outcome)
    elif action == "hangup":
        # What Twilio sends when a call ends: its status callback, so the journey shows the ending.
        seconds = body.get("seconds")
        call.hang_up(seconds if isinstance(seconds, int) and 0 <= seconds < 86_400 else 0)
        return jsonify({"sid": call.sid, "ended": True})
    else:
        raise BadRequest("the action is start, press, silence, speak, dial or hangup")
    return jsonify(_describe(turn, call.sid))


def _url(value: object, kind: str) -> str:
    url = str(value or "")
    match = PENDING.match(url)
    if not match or match.group(1) != kind:
        raise BadRequest(f"the call is not waiting for a {'key' if kind == 'gather' else 'transfer'}")
    return url


def _pending(**urls: str) -> Turn:
    """Stand in for the previous answer: only its action URL matters to the next request."""
    return Turn(request="", params={}, status=200, twiml="", **urls)  # type: ignore[arg-type]


def _node_of(url: str | None) -> str | None:
    if not url:
        return None
    found = parse_qs(urlsplit(url).query).get("node")
    return found[0] if found else None


def _listens(twiml: str) -> tuple[bool, str]:
    """Tell whether the answer's <Gather> also takes speech, and the words it expects."""
    try:
        found = ET.fromstring(twiml).find("Gather")
    except ET.ParseError:
        return False, ""
    if found is None:
        return False, ""
    return "speech" in (found.get("input") or ""), found.get("hints") or ""


def _describe(turn: Turn, sid: str) -> dict[str, Any]:
    gather = turn.gather_action or turn.redirect
    speech, hints = _listens(turn.twiml) if turn.status == 200 and turn.twiml.strip() else (False, "")
    return {
        "sid": sid,
        "request": turn.request,
        "params": {k: v for k, v in turn.params.items() if k in SHOWN_PARAMS},
        "status": turn.status,
        "twiml": turn.twiml,
        "says": turn.says,
        "plays": turn.plays,
        "heard": [list(item) for item in getattr(turn, "heard", [])],
        "gather": gather if not turn.hangup else None,
        "dial": turn.dial_action,
        "dial_number": turn.dial_number,
        "hangup": turn.hangup,
        "ended": turn.ended,
        "node": _node_of(turn.dial_action or gather),
        "speech": speech and not turn.hangup,
        "hints": hints,
    }
