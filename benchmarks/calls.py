"""Realistic call paths walked through the real webhooks, recorded as signed requests for a load tool."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin

from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.line.simulator import DIAL_OUTCOMES, parse

# Key scripts: '.' is a silence; answered/busy/no-answer/failed/canceled end a transfer.
PATHS: tuple[tuple[str, ...], ...] = (
    ("4", "1", "1", "1", "1"),  # learns, then how to report to the police
    ("2", "1", "busy"),  # asks for Refuge, who are busy; back to the menu
    ("2", "2", "1", "answered"),  # hears Refuge's number, then is put through
    ("1", "1", "no-answer"),  # in danger: the 999 advice, then Refuge does not answer
    ("3", "2", "2", "3", "1"),  # reporting, anonymously, then the police
    (".", ".", "."),  # silent: re-prompted, then the safety advice and a polite end
    ("7", "9", "*", "#", "0", "failed"),  # wrong keys, repeat, back, Refuge from anywhere
    ("0", "answered"),  # straight to Refuge
)
# Parameters Twilio sends with every voice webhook (numbers from Ofcom's drama ranges).
TWILIO_PARAMS = {
    "AccountSid": "AC" + "0" * 32,
    "ApiVersion": "2010-04-01",
    "Direction": "inbound",
    "From": "+447700900123",
    "Caller": "+447700900123",
    "FromCountry": "GB",
    "To": "+441632960001",
    "Called": "+441632960001",
    "ToCountry": "GB",
    "CallStatus": "in-progress",
}


@dataclass(frozen=True)
class Request:
    """One webhook request as Twilio would send it: path with query, form body, signature."""

    path: str
    body: str
    signature: str


def record_calls(base_url: str, token: str, calls: int = 64) -> list[Request]:
    """Walk `calls` calls over the realistic paths in-process; return each request, signed for base_url."""
    validator = RequestValidator(token)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TWILIO_AUTH_TOKEN": token,
                "SECRET_KEY": "benchmark",
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'walk.db'}",
                "JOURNEYS": False,  # the walk records requests; its folder goes before a write
            }
        )
        client = app.test_client()
        requests: list[Request] = []

        def post(url: str, params: dict[str, str]) -> str:
            full = urljoin(base_url + "/voice", url)
            signature = validator.compute_signature(full, params)
            response = client.post(full, data=params, headers={"X-Twilio-Signature": signature})
            if response.status_code not in (200, 204):
                raise RuntimeError(f"{full} answered {response.status_code} while recording the load")
            requests.append(Request(full.removeprefix(base_url), urlencode(params), signature))
            return response.get_data(as_text=True)

        for n in range(calls):
            keys = PATHS[n % len(PATHS)]
            sid = f"CA{n:032x}"
            base = {**TWILIO_PARAMS, "CallSid": sid}
            page = parse(post("/voice", {**base, "CallStatus": "ringing"}))
            for key in keys:
                if key in DIAL_OUTCOMES:
                    url, extra = page.get("dial_action"), {"DialCallStatus": DIAL_OUTCOMES[key]}
                else:
                    url = page.get("gather_action") or page.get("redirect")
                    extra = {} if key == "." else {"Digits": key}
                if not url:
                    break
                page = parse(post(str(url), {**base, **extra}))
            post("/voice/status", {**base, "CallStatus": "completed", "CallDuration": "95"})
    return requests


def lua_script(requests: list[Request], host: str) -> str:
    """Return a wrk script that replays the requests round-robin and prints a JSON summary."""
    rows = "\n".join(f"  {{[==[{r.path}]==], [==[{r.body}]==], [==[{r.signature}]==]}}," for r in requests)
    return LUA.replace("-- ROWS", rows).replace("HOST", host)


LUA = """
local rows = {
-- ROWS
}
local requests = {}
local closing = {}
local index = 0
local thread_id = 0
local counter = 0

function setup(thread)
  thread:set("thread_id", counter)
  counter = counter + 1
end

function init(args)
  for i, row in ipairs(rows) do
    local headers = {
      ["Host"] = "HOST",
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = row[3],
    }
    requests[i] = wrk.format("POST", row[1], headers, row[2])
    headers["Connection"] = "close"
    closing[i] = wrk.format("POST", row[1], headers, row[2])
  end
  index = (thread_id * 97) % #requests
end

-- RECYCLE > 0: every RECYCLE-th request asks the server to close its connection, and wrk opens a
-- new one, as a proxy retires an upstream connection after so many requests (nginx's
-- keepalive_requests). New connections land on whichever worker accepts them, so no round keeps
-- all its connections on one worker for its whole length.
local recycle = math.floor(tonumber(os.getenv("RECYCLE") or "0") or 0)
local sent = 0

-- PAUSE_MS > 0 paces each connection: it waits that long between its requests.
local pause = math.floor(tonumber(os.getenv("PAUSE_MS") or "0") or 0)
if pause > 0 then
  function delay()
    return pause
  end
end

function request()
  index = index % #requests + 1
  sent = sent + 1
  if recycle > 0 and sent % recycle == 0 then
    return closing[index]
  end
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "bad_status": %d, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""
