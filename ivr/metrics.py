"""What monitoring scrapes from /metrics: counts and timings of the line, never caller data.

prometheus_client's metrics, defined once here; the parts of the line add to them. Under
gunicorn each worker writes its own figures to PROMETHEUS_MULTIPROC_DIR (deploy/gunicorn.conf.py
sets it) and /metrics adds them up across workers. No label ever holds a number, a CallSid or
anything a caller said: labels are node-free words from small fixed sets (an outcome, a contact
id from the flow, a language code, a reason).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

CALLS_STARTED = Counter("ivr_calls_started", "Calls answered by the line (the incoming-call webhook).")
CALLS_ENDED = Counter("ivr_calls_ended", "Calls that ended, by Twilio's final CallStatus.", ["outcome"])
TRANSFERS = Counter(
    "ivr_transfers", "Transfers that ended, by contact and Twilio's DialCallStatus.", ["contact", "status"]
)
SAFE_TWIML = Counter("ivr_safe_twiml", "Safe answers given instead of the flow, by reason.", ["reason"])
SIGNATURES_REFUSED = Counter(
    "ivr_signatures_refused", "Webhook requests refused for want of a valid signature."
)
FLOW_REFUSED = Counter("ivr_flow_edits_refused", "Edits of the prompt files refused by the caller's rules.")
FLOW_ON_DISK_REFUSED = Gauge(
    "ivr_flow_on_disk_refused",
    "1 while the flow on disk is refused and an older or last-resort flow serves.",
    multiprocess_mode="max",
)
FLOW_LIVE = Gauge(
    "ivr_flow_live",
    "1 for the flow version each worker serves, by version and where it came from.",
    ["version", "source"],
    multiprocess_mode="livemax",
)
SAY_FALLBACKS = Gauge(
    "ivr_prompts_spoken_without_audio",
    "Prompts of an offered language that has audio, spoken with <Say> for want of playable audio.",
    ["lang"],
    multiprocess_mode="livemax",
)
JOURNEY_EVENTS_WRITTEN = Counter(
    "ivr_journey_events_written", "Anonymous journey events written to the store."
)
JOURNEY_EVENTS_DROPPED = Counter("ivr_journey_events_dropped", "Journey events lost, by reason.", ["reason"])
WEBHOOK_SECONDS = Histogram(
    "ivr_webhook_seconds",
    "Time to answer a Twilio webhook, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
)
SIGNIN_FAILURES = Counter("ivr_signin_failures", "Failed sign-ins to the admin console.")


def exposition() -> bytes:
    """Return every metric in Prometheus' text format, summed over gunicorn's workers if there are several."""
    if os.path.isdir(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or "\0"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
