"""Property tests of the webhooks: any signed input answers valid TwiML; anything unsigned is refused."""

from __future__ import annotations

import logging
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import create_app
from ivr.services import services
from tests.helpers.twilio import ROOT, TOKEN, sign

BASE = "http://localhost"
FIELDS = ["Digits", "DialCallStatus", "CallStatus", "CallDuration", "CallSid", "To", "From", "Caller", "lang"]
ROUTES = ["/voice", "/voice/gather", "/voice/dial", "/voice/status", "/voice/fallback"]
CALLER = "+447700900123"

# The app is shared by every example: webhooks keep no per-call memory, which is what is tested.
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Recorder:
    """A journey store that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, object]]] = []

    def record(self, call_sid: str, event: str, **fields: object) -> None:
        self.events.append((call_sid, event, fields))


class Errors(logging.Handler):
    """Collect the errors the service logs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Recorder, Errors]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "prompts", tmp / "prompts")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "TWILIO_AUTH_TOKEN": TOKEN,
            "PROMPTS_DIR": str(tmp / "prompts"),
            "AUDIO_DIR": str(tmp / "audio"),
            "DATABASE_URL": f"sqlite:///{tmp / 'journeys.db'}",
        }
    )
    store = Recorder()
    services(app).journeys = store
    errors = Errors()
    logging.getLogger("ivr").addHandler(errors)
    yield app, store, errors
    logging.getLogger("ivr").removeHandler(errors)


def node_ids() -> st.SearchStrategy[str]:
    shipped = ["greeting", "main_menu", "danger", "help_menu", "refuge_transfer", "goodbye", "help_end"]
    return st.one_of(
        st.sampled_from(shipped), st.from_regex(r"[A-Za-z0-9_]{1,70}", fullmatch=True), st.text()
    )


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-5, 100_000).map(str), st.sampled_from(["", "²", "٣", "1e3", " 1", "0x1"]))


def keys() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(list("0123456789*#") + ["", " ", "12", "#*", "w"]), st.text(max_size=20))


queries = st.fixed_dictionaries(
    {},
    optional={
        "node": node_ids(),
        "lang": st.one_of(st.sampled_from(["en-GB", "pl-PL", "cy", ""]), st.text(max_size=12)),
        "s": numbers(),
        "i": numbers(),
    },
).flatmap(
    lambda q: st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=2).map(
        lambda extra: {**extra, **q}
    )
)

forms = st.fixed_dictionaries(
    {},
    optional={
        "Digits": keys(),
        "DialCallStatus": st.one_of(
            st.sampled_from(["completed", "busy", "no-answer", "failed", "canceled"]), st.text(max_size=30)
        ),
        "CallStatus": st.text(max_size=30),
        "CallDuration": numbers(),
        "CallSid": st.text(max_size=40),
        "To": st.one_of(st.just("+441632960001"), st.text(max_size=20)),
        "From": st.just(CALLER),
        "Caller": st.just(CALLER),
    },
).flatmap(
    lambda f: st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40), max_size=4).map(
        lambda extra: {**extra, **f}
    )
)

# What a header can carry at all (no line breaks); anything else is the test client's refusal, not ours.
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)

paths = st.one_of(st.sampled_from(ROUTES), st.sampled_from(ROUTES).map(lambda r: r + "/x"))


def url_for(path: str, query: dict[str, str]) -> str:
    return path + ("?" + urlencode(query) if query else "")


def assert_twiml(response) -> ET.Element:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    assert len(root), "an empty answer leaves the caller in silence"
    return root


@SETTINGS
@given(path=paths, query=queries, form=forms)
def test_any_signed_request_answers_valid_twiml(
    fuzz_app, path: str, query: dict[str, str], form: dict[str, str]
):
    app, store, errors = fuzz_app
    client = app.test_client()
    url = url_for(path, query)
    before = len(store.events)
    response = client.post(url, data=form, headers=sign(BASE + url, form))

    if path == "/voice/status":
        assert response.status_code == 204, response.get_data(as_text=True)
    else:
        assert_twiml(response)
    assert errors.records == [], [r.getMessage() for r in errors.records]
    for _sid, _event, fields in store.events[before:]:
        assert CALLER not in map(str, fields.values()), "a caller's number reached the journey store"

    again = client.post(url, data=form, headers=sign(BASE + url, form))
    assert again.get_data() == response.get_data(), "a retried request must get the same answer"


@SETTINGS
@given(
    path=paths,
    query=queries,
    form=forms,
    forged=st.one_of(
        st.none(),
        st.just(""),
        header_text,
        st.sampled_from(["wrong-token", "other-url", "other-params"]),
    ),
)
def test_unsigned_or_wrongly_signed_requests_are_refused(
    fuzz_app, path: str, query: dict[str, str], form: dict[str, str], forged: str | None
):
    app, store, _errors = fuzz_app
    client = app.test_client()
    url = url_for(path, query)
    if forged is None:
        headers = {}
    elif forged == "wrong-token":
        headers = sign(BASE + url, form, token="not-the-token")
    elif forged == "other-url":
        headers = sign(BASE + url + ("&" if "?" in url else "?") + "node=danger", form)
    elif forged == "other-params":
        headers = sign(BASE + url, {**form, "Digits": "0" if form.get("Digits") != "0" else "1"})
    else:
        headers = {"X-Twilio-Signature": forged}
    before = len(store.events)

    response = client.post(url, data=form, headers=headers)

    if path.endswith("/x"):
        # No webhook lives there: nothing runs, and a caller sent there still hears safe TwiML.
        assert_twiml(response)
    else:
        assert response.status_code == 403, response.get_data(as_text=True)
    assert len(store.events) == before, "a refused request must record nothing"


@SETTINGS
@given(body=st.binary(max_size=2000), path=st.sampled_from(ROUTES[:3]), signature=header_text)
def test_garbage_bodies_are_refused_without_errors(fuzz_app, body: bytes, path: str, signature: str):
    app, store, errors = fuzz_app
    before = len(store.events)
    response = app.test_client().post(
        path,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403
    assert len(store.events) == before
    assert errors.records == []
