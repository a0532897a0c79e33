"""Play a call through the real /voice webhooks, signed as Twilio signs, and read what it says."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

from flask import Flask
from twilio.request_validator import RequestValidator

from ..services import services

BASE_URL = "http://localhost"
# Sent with every request the simulator makes; Twilio never sends it.
SIMULATED_HEADER = "X-IVR-Simulated"
DIAL_OUTCOMES = {
    "answered": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}


@dataclass
class Turn:
    """One webhook answer: what the caller hears and what Twilio would do next."""

    request: str
    params: dict[str, str]
    status: int
    twiml: str
    says: list[str] = field(default_factory=list)
    plays: list[str] = field(default_factory=list)
    # What the caller hears in order: ("say", text) and ("play", URL), as the TwiML has them.
    heard: list[tuple[str, str]] = field(default_factory=list)
    gather_action: str | None = None
    redirect: str | None = None
    dial_action: str | None = None
    dial_number: str | None = None
    hangup: bool = False

    @property
    def ended(self) -> bool:
        """Tell whether the call is over after this answer."""
        return self.hangup or not (self.gather_action or self.dial_action or self.redirect)


def parse(twiml: str) -> dict[str, object]:
    """Read a TwiML document into what the caller hears and the next request's URL."""
    root = ET.fromstring(twiml)
    if root.tag != "Response":
        raise ValueError(f"not TwiML: root is <{root.tag}>")
    says: list[str] = []
    plays: list[str] = []
    heard: list[tuple[str, str]] = []
    out: dict[str, object] = {"says": says, "plays": plays, "heard": heard, "hangup": False}
    for element in root.iter():  # document order: what Twilio plays first comes first
        if element.tag == "Say":
            says.append("".join(element.itertext()).strip())
            heard.append(("say", says[-1]))
        elif element.tag == "Play":
            plays.append((element.text or "").strip())
            heard.append(("play", plays[-1]))
        elif element.tag == "Gather":
            out["gather_action"] = element.get("action")
        elif element.tag == "Redirect":
            out["redirect"] = (element.text or "").strip()
        elif element.tag == "Dial":
            out["dial_action"] = element.get("action")
            number = element.find("Number")
            out["dial_number"] = (number.text or "").strip() if number is not None else None
        elif element.tag == "Hangup":
            out["hangup"] = True
    return out


class Call:
    """A simulated call: start it, press keys, stay silent, choose how a transfer ends."""

    def __init__(
        self,
        app: Flask,
        token: str | None = None,
        to: str = "",
        base_url: str = BASE_URL,
        simulated: bool = False,
    ) -> None:
        self.client = app.test_client()
        self.simulated = simulated  # a rehearsal by staff (the console, `ivr simulate`): marked as such
        self.token = token if token is not None else services(app).settings.twilio_auth_token
        self.base_url = base_url
        self.sid = "CA" + uuid.uuid4().hex
        self.to = to
        self.turns: list[Turn] = []

    @property
    def last(self) -> Turn:
        return self.turns[-1]

    def start(self) -> Turn:
        """Ring the line."""
        return self._post("/voice", {"CallStatus": "ringing"})

    def press(self, key: str) -> Turn:
        """Press one key (or send any Digits value) at the current menu."""
        return self._post(self._gather_url(), {"Digits": key})

    def silence(self) -> Turn:
        """Let the menu's timeout pass without pressing anything."""
        return self._post(self._gather_url(), {})

    def speak(self, words: str, confidence: float = 0.9) -> Turn:
        """Answer the current menu by voice, as Twilio's speech recognition reports it."""
        return self._post(self._gather_url(), {"SpeechResult": words, "Confidence": f"{confidence:.2f}"})

    def dial_outcome(self, outcome: str) -> Turn:
        """Finish the current transfer: answered, busy, no-answer, failed or canceled."""
        if not self.last.dial_action:
            raise RuntimeError("there is no transfer to finish")
        status = DIAL_OUTCOMES.get(outcome, outcome)
        return self._post(self.last.dial_action, {"DialCallStatus": status})

    def hang_up(self, duration: int = 30) -> None:
        """Send the status callback Twilio sends when the call ends."""
        self._post("/voice/status", {"CallStatus": "completed", "CallDuration": str(duration)}, record=False)

    def _gather_url(self) -> str:
        url = self.last.gather_action or self.last.redirect
        if not url:
            raise RuntimeError("the call is not waiting for a key")
        return url

    def _post(self, url: str, params: dict[str, str], record: bool = True) -> Turn:
        full = urljoin(self.base_url + "/voice", url)
        params = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "To": self.to, **params}
        headers = {SIMULATED_HEADER: "1"} if self.simulated else {}  # the figures leave rehearsals out
        if self.token:
            headers["X-Twilio-Signature"] = RequestValidator(self.token).compute_signature(full, params)
        response = self.client.post(full, data=params, headers=headers)
        text = response.get_data(as_text=True)
        turn = Turn(
            request=full.removeprefix(self.base_url), params=params, status=response.status_code, twiml=text
        )
        if response.status_code == 200 and text.strip():
            for name, value in parse(text).items():
                setattr(turn, name, value)
        if record:
            self.turns.append(turn)
        return turn


def run(app: Flask, keys: list[str], token: str | None = None, simulated: bool = False) -> Call:
    """Play a whole call: keys, '.' for a silence, or a dial outcome (answered, busy, …)."""
    call = Call(app, token, simulated=simulated)
    call.start()
    for key in keys:
        if call.last.ended and not call.last.dial_action:
            break
        if key in DIAL_OUTCOMES:
            call.dial_outcome(key)
        elif key in (".", "silence"):
            call.silence()
        elif key.startswith("say:"):
            call.speak(key.removeprefix("say:"))
        else:
            call.press(key)
    return call
