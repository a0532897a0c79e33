"""Languages as callers meet them: the language menu, every language end to end, what is offered."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from ivr.checks import load
from ivr.cli import cli
from ivr.flow.languages import availability, offered_languages
from ivr.flow.queries import heard_prompts
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.languages import gather_state, install_audio, recordings, say_texts
from tests.helpers.twilio import ROOT, post_signed, twiml

SHIPPED, _ = load(ROOT / "prompts")
assert SHIPPED is not None
ALL_LANGUAGES = ["en-GB", "sq", "vi", "ar", "ti", "ro", "pl", "zh-CN"]
SAY_LANGUAGES = ["en-GB", "vi", "ar", "ro", "pl", "zh-CN"]  # those Twilio has a <Say> voice for
AUDIO_ONLY = ["sq", "ti"]
KEY_OF = {o.lang: o.key for o in SHIPPED.nodes["language_menu"].options}


def check(app, prompts_dir: Path):
    """Run `ivr check` on a folder, reading audio from the given app as it would from the real one."""
    return CliRunner().invoke(
        cli, ["check", "--prompts", str(prompts_dir)], obj=ScriptInfo(create_app=lambda: app)
    )


def to_language_menu(call: Call) -> ET.Element:
    """Ring the line and let the greeting pass."""
    call.start()
    return ET.fromstring(call.silence().twiml)


def test_every_language_is_declared_with_a_complete_catalogue() -> None:
    assert SHIPPED.catalogue.languages.keys() >= set(ALL_LANGUAGES)
    for lang in ALL_LANGUAGES:
        language = SHIPPED.catalogue.languages[lang]
        assert availability(SHIPPED, lang).missing == (), lang
        assert language.review == ("approved" if lang == "en-GB" else "draft")
    # Tigrinya and Albanian have no Twilio voice: they need audio to be offered.
    assert offered_languages(SHIPPED) == tuple(SAY_LANGUAGES)


def test_greeting_is_english_then_the_language_menu_offers_each_language_in_its_own_words(
    call: Call, flow
) -> None:
    greeting = ET.fromstring(call.start().twiml)
    assert gather_state(greeting)["node"] == "greeting"
    assert say_texts(greeting)[1] == flow.catalogue.text("advice_999", "en-GB")
    menu = to_language_menu(Call(call.client.application, call.token))
    assert gather_state(menu) == {"node": "language_menu", "lang": "en-GB", "s": "0", "i": "0"}
    says = list(menu.iter("Say"))
    assert [" ".join(s.itertext()) for s in says] == [
        flow.catalogue.text("language_choice", lang) for lang in SAY_LANGUAGES
    ]
    for say, lang in zip(says, SAY_LANGUAGES, strict=True):
        assert say.get("voice") == flow.voices[lang].say_voice
        assert say.get("language") == flow.voices[lang].say_language
        assert KEY_OF[lang] in say.text  # each names its own fixed key


def test_pressing_nothing_at_the_language_menu_gives_english(call: Call, flow) -> None:
    to_language_menu(call)
    keys = ET.fromstring(call.silence().twiml)
    assert gather_state(keys)["lang"] == "en-GB"
    assert say_texts(keys) == [flow.catalogue.text("keys_intro", "en-GB")]
    main = ET.fromstring(call.silence().twiml)
    assert gather_state(main) == {"node": "main_menu", "lang": "en-GB", "s": "0", "i": "0"}


@pytest.mark.parametrize("lang", SAY_LANGUAGES[1:])
def test_choosing_a_language_gives_the_999_advice_in_it_at_once(call: Call, flow, lang: str) -> None:
    to_language_menu(call)
    chosen = ET.fromstring(call.press(KEY_OF[lang]).twiml)
    assert gather_state(chosen)["lang"] == lang
    spoken = say_texts(chosen)
    assert spoken[:3] == [flow.catalogue.text(p, lang) for p in ("advice_999", "silent_solution", "welcome")]
    assert "9 9 9" in spoken[0]
    assert all(s.get("voice") == flow.voices[lang].say_voice for s in chosen.iter("Say"))
    # The language carries on: the next menu is in it too.
    main = ET.fromstring(call.silence().twiml)
    assert gather_state(main)["lang"] == lang
    assert say_texts(main)[0] == flow.catalogue.text("main_menu_intro", lang)


def test_a_key_pressed_during_the_greeting_chooses_a_language(call: Call, flow) -> None:
    call.start()
    chosen = ET.fromstring(call.press(KEY_OF["pl"]).twiml)
    assert gather_state(chosen)["lang"] == "pl"
    assert say_texts(chosen)[0] == flow.catalogue.text("advice_999", "pl")


@pytest.mark.parametrize("key", ["2", "5", "9"])
def test_keys_of_languages_not_offered_are_wrong_keys_or_global(call: Call, key: str) -> None:
    to_language_menu(call)
    root = ET.fromstring(call.press(key).twiml)
    state = gather_state(root)
    assert state["node"] == "language_menu"
    assert state["lang"] == "en-GB"
    if key == "9":  # the slow key works here too
        assert state.get("slow") == "1"
    else:
        assert say_texts(root)[0] == "Sorry, that is not an option."
        assert state["i"] == "1"


def test_refuge_key_works_at_the_language_menu(call: Call) -> None:
    to_language_menu(call)
    turn = call.press("0")
    assert turn.dial_number == "+448082000247"


def _walk(app, lang: str) -> tuple[set[str], list[ET.Element]]:
    """Visit every node by keypad alone, in one language; return the nodes seen and every document."""
    client = app.test_client()
    flow = services(app).live.current().flow
    first = twiml(
        post_signed(client, "/voice/gather?node=language_menu&lang=en-GB", {"Digits": KEY_OF[lang]})
    )
    documents = [first]
    seen = {"language_menu", gather_state(first)["node"]}
    queue = deque(["main_menu"])
    expanded: set[str] = set()
    while queue:
        node = queue.popleft()
        if node in expanded:
            continue
        expanded.add(node)
        seen.add(node)
        for option in flow.nodes[node].options:
            path = f"/voice/gather?node={node}&lang={lang}&s=0&i=0"
            root = twiml(post_signed(client, path, {"Digits": option.key}))
            documents.append(root)
            target = option.goto
            if flow.nodes[target].kind == "transfer":
                dial = root.find("Dial")
                assert dial is not None and dial.find("Number").text == "+448082000247"
                assert "lang=" + lang in dial.get("action", "")
                for outcome in ("busy", "completed"):
                    after = twiml(post_signed(client, dial.get("action"), {"DialCallStatus": outcome}))
                    documents.append(after)
                    seen.add(flow.nodes[target].on_failed if outcome == "busy" else "goodbye")
            else:
                assert gather_state(root)["node"] == target
                assert gather_state(root)["lang"] == lang
                queue.append(target)
            seen.add(target)
    limit = twiml(post_signed(client, f"/voice/gather?node=main_menu&lang={lang}&s=2&i=0", {}))
    documents.append(limit)
    seen.add("help_end")
    return seen, documents


@pytest.mark.parametrize("lang", ALL_LANGUAGES)
def test_every_language_reaches_every_part_of_the_line_in_that_language(app, flow, lang: str) -> None:
    if lang in AUDIO_ONLY:
        install_audio(app, AUDIO_ONLY)
    assert lang in services(app).live.current().renderer.offered
    seen, documents = _walk(app, lang)
    other_welcome = "language_welcome" if lang == "en-GB" else "keys_welcome"
    assert seen == set(flow.nodes) - {"greeting", other_welcome}
    texts = {flow.catalogue.text(pid, lang) for pid in heard_prompts(flow)}
    heard = 0
    for root in documents:
        for say in root.iter("Say"):
            assert " ".join(say.itertext()) in texts, (lang, " ".join(say.itertext()))
            assert say.get("language") == flow.voices[lang].say_language
            heard += 1
        for play in root.iter("Play"):
            assert play.text.startswith(f"http://localhost/audio/{lang}/"), play.text
            heard += 1
    assert heard > 60


def test_a_language_with_a_missing_prompt_is_not_offered(prompts_dir: Path, app_config) -> None:
    from ivr import create_app

    catalogue = prompts_dir / "pl.yaml"
    text = catalogue.read_text()
    catalogue.write_text(re.sub(r"\n  goodbye: >-\n    .*\n(    .*\n)*", "\n", text))
    app = create_app(app_config)
    offered = services(app).live.current().renderer.offered
    assert "pl" not in offered and "ro" in offered
    menu = to_language_menu(Call(app, str(app_config["TWILIO_AUTH_TOKEN"])))
    assert not any("Polski" in s for s in say_texts(menu))
    # A call still carrying lang=pl is answered in English, not with a missing prompt.
    root = twiml(post_signed(app.test_client(), "/voice/gather?node=main_menu&lang=pl", {"Digits": "4"}))
    assert gather_state(root)["lang"] == "en-GB"
    result = check(app, prompts_dir)
    assert result.exit_code == 0, result.output
    assert "pl (Polish, draft): NOT offered (1 prompt(s) missing, e.g. 'goodbye')" in result.output


def test_tigrinya_recordings_make_tigrinya_appear(app, flow) -> None:
    # The lead switches this to recordings imported through the audio library when it lands.
    client = app.test_client()
    before = twiml(post_signed(client, "/voice/gather?node=greeting&lang=en-GB", {}))
    assert not list(before.iter("Play"))
    assert "ti" not in services(app).live.current().renderer.offered

    install_audio(app, ["ti"], missing={"goodbye"})
    assert "ti" not in services(app).live.current().renderer.offered
    reason = availability(flow, "ti", recordings(["ti"], missing={"goodbye"})).reason
    assert "no fresh recordings for 1 of" in reason and "'goodbye'" in reason

    install_audio(app, ["ti"])
    menu = twiml(post_signed(client, "/voice/gather?node=greeting&lang=en-GB", {}))
    plays = [p.text for p in menu.iter("Play")]
    assert len(plays) == 1 and plays[0].startswith("http://localhost/audio/ti/language_choice.")
    chosen = twiml(post_signed(client, "/voice/gather?node=language_menu&lang=en-GB", {"Digits": "5"}))
    assert gather_state(chosen)["lang"] == "ti"
    assert [p.text.rsplit("/", 1)[1].split(".")[0] for p in chosen.iter("Play")][:2] == [
        "advice_999",
        "silent_solution",
    ]
    assert not list(chosen.iter("Say"))
    result = check(app, Path(flow.path).parent)
    assert result.exit_code == 0, result.output
    assert "ti (Tigrinya, draft): offered (fresh audio for every prompt)" in result.output


def test_with_only_one_language_offered_the_greeting_goes_straight_to_the_main_menu(
    prompts_dir: Path, app_config
) -> None:
    from ivr import create_app

    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(re.sub(r"\n    say_voice: (?!Polly\.Amy).*", "", flow_file.read_text()))
    app = create_app(app_config)
    assert services(app).live.current().renderer.offered == ("en-GB",)
    call = Call(app, str(app_config["TWILIO_AUTH_TOKEN"]))
    call.start()
    keys = ET.fromstring(call.silence().twiml)
    assert gather_state(keys)["node"] == "keys_welcome"
    main = ET.fromstring(call.silence().twiml)
    assert gather_state(main)["node"] == "main_menu"
    call.start()
    assert gather_state(ET.fromstring(call.press("3").twiml))["node"] == "report_menu"


def test_ivr_check_prints_each_language_review_offer_and_seconds(app, prompts_dir: Path) -> None:
    result = check(app, prompts_dir)
    assert result.exit_code == 0, result.output
    lines = {line.split(" ", 1)[0]: line for line in result.output.splitlines()}
    assert lines["en-GB"].startswith("en-GB (English, approved): offered (<Say> voice Polly.Amy);")
    assert re.search(r"999 advice within 1[0-5] s; Refuge offered within \d+ s$", lines["en-GB"])
    assert lines["sq"].startswith("sq (Albanian, draft): NOT offered (no Twilio <Say> voice configured")
    assert lines["ti"].startswith("ti (Tigrinya, draft): NOT offered (no Twilio <Say> voice configured")
    assert "no fresh recordings for 66 of 66 prompts" in lines["ti"]
    for lang, name in [("vi", "Vietnamese"), ("ar", "Arabic"), ("ro", "Romanian"), ("pl", "Polish")]:
        found = re.search(
            rf"offered .*999 advice within (\d+) s in English, (\d+) s in {name}; "
            rf"Refuge offered within (\d+) s in English, (\d+) s in {name}$",
            lines[lang],
        )
        assert found, lines[lang]
        first, own, refuge_first, refuge_own = map(int, found.groups())
        assert first <= 15 < own <= 60 and refuge_first < refuge_own


def test_ivr_languages_status_lists_what_a_language_still_needs(app) -> None:
    result = CliRunner().invoke(cli, ["languages", "status"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "ti (Tigrinya, draft): NOT offered" in result.output
    assert "    needs welcome" in result.output
