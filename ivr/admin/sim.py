"""The call simulator: a keypad page whose every step is a signed request to the real /voice."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import BadRequest

from ..flow import Flow
from ..line.simulator import DIAL_OUTCOMES, Call, Turn
from ..line.twiml import KEYS
from ..services import services
from .console import bp
from .review import readable

SID = re.compile(r"^CA[0-9a-f]{32}$")
PENDING = re.compile(r"^/voice/(gather|dial)\?[A-Za-z0-9_=&%.+-]{0,300}$")
OUTCOMES = ("answered", "busy", "no-answer", "failed")
SHOWN_PARAMS = ("Digits", "SpeechResult", "DialCallStatus", "CallStatus")
# A <Play> URL names its prompt: /audio/<lang>/<prompt_id>[-slow].<hash>.wav (ivr/audio/library.py).
PLAY_PATH = re.compile(
    r"^/audio/(?P<lang>[A-Za-z0-9-]{1,20})/(?P<pid>[A-Za-z0-9_]{1,64}?)(?P<slow>-slow)?\.[0-9a-f]+\.wav$"
)
MAX_REDIRECTS = 5  # Twilio follows a <Redirect> at once; a loop of them is cut short here
TWILIO_GATHER_TIMEOUT = 5  # seconds, when a <Gather> names none


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
    call = Call(app, base_url=request.host_url.rstrip("/"), simulated=True)
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
    flow = services().live.current().flow
    followed: list[dict[str, Any]] = []
    while _only_redirects(turn) and len(followed) < MAX_REDIRECTS:
        # Twilio requests a <Redirect>'s URL as soon as it reaches it: no key, no wait.
        followed.append(_describe(turn, call.sid, flow))
        turn = call.silence()
    return jsonify({**_describe(turn, call.sid, flow), "followed": followed})


def _only_redirects(turn: Turn) -> bool:
    """Tell whether an answer ends in a <Redirect> that Twilio follows at once (no <Gather> to wait in)."""
    return bool(turn.redirect and not turn.gather_action and not turn.dial_action and not turn.hangup)


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


def _listens(root: ET.Element | None) -> tuple[bool, str]:
    """Tell whether the answer's <Gather> also takes speech, and the words it expects."""
    found = root.find("Gather") if root is not None else None
    if found is None:
        return False, ""
    return "speech" in (found.get("input") or ""), found.get("hints") or ""


def _root(turn: Turn) -> ET.Element | None:
    if turn.status != 200 or not turn.twiml.strip():
        return None
    try:
        return ET.fromstring(turn.twiml)
    except ET.ParseError:
        return None


def _seconds(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


def _parts(root: ET.Element | None, flow: Flow) -> list[dict[str, Any]]:
    """Return what the caller hears, in order: spoken texts, recordings named by prompt, pauses."""
    parts: list[dict[str, Any]] = []
    for element in root.iter() if root is not None else ():
        if element.tag == "Say":
            text = "".join(element.itertext()).strip()
            parts.append({"kind": "say", "text": text, "lang": element.get("language") or ""})
        elif element.tag == "Play":
            parts.append(_recording((element.text or "").strip(), flow))
        elif element.tag == "Pause":
            parts.append({"kind": "pause", "seconds": _seconds(element.get("length"), 1)})
    return parts


def _recording(url: str, flow: Flow) -> dict[str, Any]:
    """Describe a <Play>: the prompt its URL names, in which language, and the words it says."""
    found = PLAY_PATH.match(urlsplit(url).path)
    if not found:
        return {"kind": "play", "url": url, "prompt_id": "", "lang": "", "slow": False, "text": ""}
    pid, lang = found.group("pid"), found.group("lang")
    known = flow.catalogue.has(pid, lang)
    return {
        "kind": "play",
        "url": url,
        "prompt_id": pid,
        "lang": lang,
        "slow": bool(found.group("slow")),
        "text": readable(flow, pid, lang) if known else "",
    }


def _wait(root: ET.Element | None, gather: str | None, flow: Flow) -> dict[str, Any] | None:
    """Say what a caller's silence does at this answer's <Gather>: how long, and what follows it."""
    element = root.find("Gather") if root is not None else None
    if element is None or not gather:
        return None
    seconds = _seconds(element.get("timeout"), TWILIO_GATHER_TIMEOUT)
    query = parse_qs(urlsplit(gather).query)
    node = flow.nodes.get(query.get("node", [""])[0])
    silences = _seconds(query.get("s", ["0"])[0], 0) + 1
    moves_on, to = False, None
    if node is not None and node.next:
        moves_on, to = True, node.next
        then = f"the call moves on to {node.next}"
    elif node is not None and node.kind == "language":
        then = f"the call goes on in {flow.catalogue.languages[flow.default_language].name}"
    elif silences >= flow.limits.silences:
        then = f"the call goes to {flow.on_limit} and ends politely"
    else:
        then = "the line asks again"
    return {
        "seconds": seconds,
        "moves_on": moves_on,
        "to": to,
        "words": f"after {seconds} s of silence {then}",
    }


def _describe(turn: Turn, sid: str, flow: Flow) -> dict[str, Any]:
    gather = turn.gather_action or turn.redirect
    root = _root(turn)
    speech, hints = _listens(root)
    dial = root.find("Dial") if root is not None else None
    return {
        "sid": sid,
        "request": turn.request,
        "params": {k: v for k, v in turn.params.items() if k in SHOWN_PARAMS},
        "status": turn.status,
        "twiml": turn.twiml,
        "says": turn.says,
        "plays": turn.plays,
        "heard": [list(item) for item in getattr(turn, "heard", [])],
        "parts": _parts(root, flow),
        "gather": gather if not turn.hangup else None,
        "wait": _wait(root, turn.gather_action, flow) if not turn.hangup else None,
        "dial": turn.dial_action,
        "dial_number": turn.dial_number,
        "ringing": _seconds(dial.get("timeout"), 30) if dial is not None else None,
        "hangup": turn.hangup,
        "ended": turn.ended,
        "node": _node_of(turn.dial_action or gather),
        "speech": speech and not turn.hangup,
        "hints": hints,
    }
