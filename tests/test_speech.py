"""Spoken answers, an extra to the keypad: menus listen, words map to the same routes, doubt is refused."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest

from ivr.checks import load
from ivr.flow.speech import speech_key
from ivr.services import services
from tests.helpers.languages import gather_state, install_audio, say_texts
from tests.helpers.twilio import ROOT, post_signed, twiml

SHIPPED, _ = load(ROOT / "prompts")
assert SHIPPED is not None
OFFERED = ("en-GB", "vi", "ar", "ro", "pl", "zh-CN")


def answer(client, node: str, lang: str, speech: str, confidence: str = "0.9", **extra: str) -> ET.Element:
    """Say something at a menu, as Twilio reports a spoken answer."""
    params = {"CallSid": "CA" + "5" * 32, "SpeechResult": speech, "Confidence": confidence, **extra}
    return twiml(post_signed(client, f"/voice/gather?node={node}&lang={lang}&s=0&i=0", params))


@pytest.mark.parametrize(
    ("lang", "node", "speech", "expected"),
    [
        ("en-GB", "main_menu", "I need help", "help_menu"),
        ("en-GB", "main_menu", "Police!", "danger"),
        ("en-GB", "main_menu", "two", "help_menu"),
        ("en-GB", "main_menu", "3", "report_menu"),
        ("en-GB", "main_menu", "Refuge", "refuge_transfer"),
        ("en-GB", "report_menu", "the police", "report_police"),
        ("en-GB", "report_menu", "anonymously please", "report_crimestoppers"),
        ("en-GB", "help_refuge", "connect me", "refuge_transfer"),
        ("en-GB", "learn_menu", "the six signs", "learn_signs"),
        ("vi", "main_menu", "tôi cần giúp đỡ", "help_menu"),
        ("vi", "report_menu", "ẩn danh", "report_crimestoppers"),
        ("ar", "main_menu", "أحتاج مساعدة", "help_menu"),
        ("ar", "main_menu", "الشرطة", "danger"),
        ("ro", "learn_menu", "semnele", "learn_signs"),
        ("pl", "report_menu", "policja", "report_police"),
        ("pl", "main_menu", "dwa", "help_menu"),
        ("zh-CN", "main_menu", "我要举报", "report_menu"),
        ("zh-CN", "learn_menu", "强迫劳动", "learn_forced_labour"),
        ("zh-CN", "main_menu", "二", "help_menu"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_spoken_answers_go_where_their_key_goes(
    client, lang: str, node: str, speech: str, expected: str
) -> None:
    root = answer(client, node, lang, speech)
    if expected == "refuge_transfer":
        dial = root.find("Dial")
        assert dial is not None and "node=refuge_transfer" in dial.get("action", "")
        return
    state = gather_state(root)
    assert (state["node"], state["lang"], state["i"]) == (expected, lang, "0")


@pytest.mark.parametrize(
    ("speech", "key"),
    [("again", "*"), ("please repeat that", "*"), ("go back", "#"), ("slower please", "9")],
)
def test_spoken_words_for_the_keys_that_work_everywhere(client, speech: str, key: str) -> None:
    spoken = answer(client, "help_menu", "en-GB", speech)
    pressed = twiml(post_signed(client, "/voice/gather?node=help_menu&lang=en-GB&s=0&i=0", {"Digits": key}))
    assert ET.tostring(spoken) == ET.tostring(pressed)


@pytest.mark.parametrize(("speech", "lang"), [("Polish", "pl"), ("tiếng Việt", "vi"), ("中文", "zh-CN")])
def test_a_language_can_be_chosen_by_name(client, speech: str, lang: str) -> None:
    state = gather_state(answer(client, "language_menu", "en-GB", speech))
    assert (state["node"], state["lang"]) == ("language_welcome", lang)


@pytest.mark.parametrize(
    ("speech", "confidence"),
    [
        ("I need help", "0.3"),  # heard, but not surely enough
        ("I need help", "not-a-number"),
        ("I need help", "7"),
        ("police and help", "0.95"),  # two options at once: ambiguous
        ("the weather is lovely", "0.95"),  # nothing it could mean
        ("twenty two", "0.95"),
        ("", "0.95"),
    ],
)
def test_low_confidence_or_unclear_speech_is_an_unknown_key(client, speech: str, confidence: str) -> None:
    root = answer(client, "main_menu", "en-GB", speech, confidence)
    state = gather_state(root)
    assert state["node"] == "main_menu"
    if speech:
        assert state["i"] == "1"
        assert say_texts(root)[0] == "Sorry, that is not an option."
    else:  # no speech and no key is a silence
        assert state["s"] == "1"


def test_unclear_speech_counts_towards_the_wrong_key_limit(client) -> None:
    params = {"SpeechResult": "help", "Confidence": "0.1"}
    root = twiml(post_signed(client, "/voice/gather?node=main_menu&lang=en-GB&s=0&i=2", params))
    assert root.find("Hangup") is not None
    assert "0 8 0 8, 2 0 0 0, 2 4 7" in " ".join(say_texts(root))


def test_a_key_wins_over_speech_in_the_same_request(client) -> None:
    state = gather_state(answer(client, "main_menu", "en-GB", "police", Digits="4"))
    assert state["node"] == "learn_menu"


@pytest.mark.parametrize("lang", OFFERED)
def test_menus_listen_for_speech_with_hints_in_their_language(client, flow, lang: str) -> None:
    root = twiml(post_signed(client, f"/voice/gather?node=main_menu&lang={lang}&s=0&i=0", {"Digits": "2"}))
    gather = root.find("Gather")
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == flow.voices[lang].speech_language
    assert gather.get("speechTimeout") == "auto"
    # The keypad works exactly as without speech.
    assert (gather.get("numDigits"), gather.get("finishOnKey"), gather.get("timeout")) == ("1", "", "6")
    hints = gather.get("hints").split(", ")
    language = flow.catalogue.languages[lang]
    for node in ("refuge_transfer", "help_refuge", "help_slavery_helpline", "help_dvs"):
        assert language.speech["routes"][node][0] in hints
    assert "Refuge" in hints
    assert len(hints) <= 100


def test_english_hints_name_help_refuge_and_police(client) -> None:
    root = twiml(post_signed(client, "/voice/gather?node=keys_welcome&lang=en-GB", {}))
    hints = root.find("Gather").get("hints").split(", ")
    assert {"help", "Refuge", "police"} <= set(hints)


def test_language_menu_listens_in_english_for_language_names(client) -> None:
    root = twiml(post_signed(client, "/voice/gather?node=greeting&lang=en-GB", {}))
    gather = root.find("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "en-GB"
    assert {"Polski", "Polish", "中文", "Chinese", "Tiếng Việt"} <= set(gather.get("hints").split(", "))
    assert "Tigrinya" not in gather.get("hints")  # not offered: not listened for


def test_messages_that_go_straight_on_and_languages_without_recognition_take_keys_only(app, client) -> None:
    greeting = twiml(post_signed(client, "/voice", {}))
    assert greeting.find("Gather").get("input") == "dtmf"
    assert greeting.find("Gather").get("hints") is None
    install_audio(app, ["ti"])
    root = twiml(post_signed(client, "/voice/gather?node=main_menu&lang=ti&s=0&i=0", {"Digits": "2"}))
    gather = root.find("Gather")
    assert gather_state(root)["lang"] == "ti"
    assert gather.get("input") == "dtmf" and gather.get("language") is None


def test_speech_is_never_stored_or_logged(app, client, caplog: pytest.LogCaptureFixture) -> None:
    events: list[tuple[str, str, dict[str, object]]] = []

    class Journeys:
        def record(self, call_sid: str, event: str, **fields: object) -> None:
            events.append((call_sid, event, fields))

    services(app).journeys = Journeys()
    caplog.set_level(logging.DEBUG)
    secret = "my name is Ana Popescu and I live at 12 Station Road"
    answer(client, "main_menu", "en-GB", secret, "0.99")
    answer(client, "main_menu", "en-GB", "help me, my name is Ana", "0.99")
    assert events, "the journey store was not called"
    stored = repr(events) + caplog.text
    for word in ("Ana", "Popescu", "Station", "name"):
        assert word not in stored
    assert any(fields.get("key") == "2" for _, _, fields in events)


def test_speech_key_is_pure_and_bounded() -> None:
    main = SHIPPED.nodes["main_menu"]
    assert speech_key(SHIPPED, main, "en-GB", "HELP.", 0.9, OFFERED) == "2"
    assert speech_key(SHIPPED, main, "en-GB", "help", 0.49, OFFERED) == "?"
    assert speech_key(SHIPPED, main, "en-GB", "help", 0.5, OFFERED) == "2"
    assert speech_key(SHIPPED, main, "sq", "ndihmë", 0.9, OFFERED) == "?"  # no Albanian words: keypad
    assert speech_key(SHIPPED, main, "zh-CN", "再听一遍", 0.9, OFFERED) == "*"  # not the "一" of key 1
