"""Accessibility: the rules `ivr check` applies to every language, the speech budget, slower speech."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from ivr.checks import load
from ivr.checks.report import measured_problems, report
from ivr.cli import cli
from ivr.flow.queries import speech_seconds
from ivr.line.simulator import Call
from tests.helpers.languages import gather_state, install_audio, say_texts
from tests.helpers.prompts import edit
from tests.helpers.twilio import ROOT, post_signed, twiml


def test_the_shipped_flow_meets_every_rule_in_every_language() -> None:
    flow, problems = load(ROOT / "prompts")
    assert problems == []
    assert flow is not None and len(flow.catalogue.languages) == 8


FAULTS = [
    pytest.param(
        "pl.yaml",
        "opt_report: >-\n    Aby usłyszeć, jak zgłosić handel ludźmi, naciśnij 3.",
        "opt_report: >-\n    Naciśnij 3, aby usłyszeć, jak zgłosić handel ludźmi.",
        ["pl.yaml", "main_menu", "option 3 ('opt_report') is not goal first"],
        id="goal-first-polish",
    ),
    pytest.param(
        "pl.yaml",
        "prompt:keys_intro",
        "W każdej chwili: aby porozmawiać teraz z Refuge, naciśnij 0. Aby wrócić, naciśnij krzyżyk. "
        "Aby mówić wolniej, naciśnij 9.",
        ["pl.yaml", "pl: the key '*' (gwiazdkę) is never announced before the first menu"],
        id="star-not-announced",
    ),
    pytest.param(
        "vi.yaml",
        "prompt:keys_intro",
        "Bất cứ lúc nào: để nói chuyện với Refuge ngay, bấm phím 0. Để nghe lại, bấm phím sao. "
        "Để quay lại, bấm phím thăng.",
        ["vi.yaml", "vi: the key '9' (9) is never announced"],
        id="slow-key-not-announced",
    ),
    pytest.param(
        "ro.yaml",
        "prompt:refuge_number",
        "Linia Refuge este gratuită. Numărul este 0808 2000 247. Încă o dată: {refuge}.",
        ["ro.yaml", "ro: prompt 'refuge_number' writes a number in digits"],
        id="number-in-digits",
    ),
    pytest.param(
        "vi.yaml",
        "prompt:refuge_number",
        "Đường dây của Refuge miễn phí. Số điện thoại là {refuge}.",
        ["vi.yaml", "vi: prompt 'refuge_number' reads {refuge} once: a number must be read twice"],
        id="number-read-once",
    ),
    pytest.param(
        "ar.yaml",
        "أغلق الخط واتصل بالرقم {police_emergency}.",
        "أغلق الخط واطلب الشرطة.",
        ["ar.yaml", "ar: the 999 advice 'advice_999' does not say 999"],
        id="advice-without-999",
    ),
    pytest.param(
        "flow.yaml",
        "say: [advice_999, silent_solution, welcome, keys_intro]\n    next: main_menu",
        "say: [welcome, signs_more, orders_risk, orders_prevention, advice_999]\n    next: main_menu",
        ["the 999 advice ends", "it must end within 60 s"],
        id="own-999-late",
    ),
    pytest.param(
        "sq.yaml",
        "dhe shumë orë shtesë.",
        "dhe shumë orë shtesë. " + "Kjo është shumë e rëndësishme për të gjithë ne. " * 12,
        ["sq.yaml", "sq: prompt 'signs_more' lasts about", "its budget is 40 s"],
        id="prompt-over-budget",
    ),
    pytest.param(
        "ro.yaml",
        "prompt:opt_talk_refuge",
        "Pentru a vorbi cu Refuge acum, cu o persoană care vă ascultă, care vă crede și care vă poate ajuta "
        "să găsiți un loc sigur, apăsați 1.",
        ["ro.yaml", "ro: prompt 'opt_talk_refuge' lasts about", "its budget is 8 s"],
        id="option-over-budget",
    ),
    pytest.param(
        "ro.yaml",
        "Română: apăsați 6.",
        "Română.",
        ["ro.yaml", "ro: the language menu choice 'language_choice' does not say its key 6"],
        id="language-choice-without-key",
    ),
    pytest.param(
        "pl.yaml",
        '  option_pattern: "^Aby .+, naciśnij {key}\\\\.$"\n',
        "",
        ["pl.yaml", "pl: meta needs an option_pattern"],
        id="no-option-pattern",
    ),
    pytest.param(
        "zh-CN.yaml",
        '  keys: {"*": "星号键", "#": "井号键"}\n',
        "",
        ["zh-CN.yaml", "zh-CN: meta 'keys' must say how '*' is named aloud"],
        id="key-names-missing",
    ),
    pytest.param(
        "flow.yaml",
        "5: {lang: ti, say: language_choice, goto: language_welcome}",
        "5: {say: language_choice, goto: language_welcome}",
        ["language_menu", "option 5 needs 'lang'"],
        id="language-option-without-lang",
    ),
    pytest.param(
        "flow.yaml",
        "5: {lang: ti,",
        "5: {lang: pl,",
        ["language_menu", "option 7: 'pl' is offered twice"],
        id="language-twice",
    ),
    pytest.param(
        "flow.yaml",
        "5: {lang: ti,",
        "5: {lang: cs,",
        ["language_menu", "option 5: language 'cs' is not declared"],
        id="language-not-declared",
    ),
    pytest.param(
        "flow.yaml",
        "1: {lang: en-GB, say: language_choice, goto: keys_welcome}\n      2: {lang: sq,",
        "2: {lang: sq,",
        ["language_menu", "the default language 'en-GB' must be an option"],
        id="default-language-not-offered",
    ),
    pytest.param(
        "flow.yaml",
        "1: {say: opt_report_police, goto: report_police}",
        "1: {say: opt_report_police, goto: report_police, lang: pl}",
        ["report_menu", "option 1: only a language menu names 'lang'"],
        id="lang-outside-language-menu",
    ),
    pytest.param(
        "flow.yaml",
        "      4: {say: opt_learn, goto: learn_menu}\n",
        "      4: {say: opt_learn, goto: learn_menu}\n      5: {say: opt_report, goto: report_menu}\n",
        ["main_menu", "has 5 options; at most 4 are easy to remember"],
        id="five-options",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), FAULTS)
def test_each_rule_catches_its_fault(
    prompts_dir: Path, file: str, old: str, new: str, expected: list[str]
) -> None:
    edit(prompts_dir / file, old, new)
    flow, problems = load(prompts_dir)
    found = [str(p) for p in problems if all(e in str(p) for e in expected)]
    assert found, "\n".join(str(p) for p in problems) or "no problems at all"


def test_check_exits_1_naming_the_language_and_the_rule(app, prompts_dir: Path) -> None:
    edit(prompts_dir / "pl.yaml", "Aby wrócić, naciśnij krzyżyk.", "")
    info = ScriptInfo(create_app=lambda: app)
    result = CliRunner().invoke(cli, ["check", "--prompts", str(prompts_dir)], obj=info)
    assert result.exit_code == 1
    assert re.search(r"prompts/pl\.yaml: pl: the key '#' \(krzyżyk\) is never announced", result.output)


def test_missing_translations_do_not_fail_the_check_but_english_ones_do(prompts_dir: Path) -> None:
    edit(prompts_dir / "vi.yaml", "  goodbye: >-", "  goodbye_old: >-")
    assert load(prompts_dir)[1] == []
    edit(prompts_dir / "en-GB.yaml", "  goodbye: >-", "  goodbye_old: >-")
    assert any("prompt 'goodbye' is missing from en-GB" in str(p) for p in load(prompts_dir)[1])


def test_speech_length_is_estimated_per_language() -> None:
    flow, _ = load(ROOT / "prompts")
    languages = flow.catalogue.languages
    # Ten Chinese characters at four a second, not one "word".
    assert speech_seconds("如果您现在有危险请", languages["zh-CN"]) == pytest.approx(9 / 4)
    assert speech_seconds("To get help, press 2.", languages["en-GB"]) == pytest.approx(5 / 2.5)
    for lang in languages:
        text = flow.catalogue.text("silent_solution_detail", lang)
        assert 15 < speech_seconds(text, languages[lang]) < 40, lang


def test_measured_audio_replaces_the_estimate(prompts_dir: Path) -> None:
    flow, _ = load(prompts_dir)

    def durations(pid: str, lang: str) -> float | None:
        return {("advice_999", "en-GB"): 12.0, ("opt_danger", "vi"): 9.5}.get((pid, lang))

    estimated = {r.lang: r for r in report(flow)}
    measured = {r.lang: r for r in report(flow, durations=durations)}
    english_advice = speech_seconds(
        flow.catalogue.text("advice_999", "en-GB"), flow.catalogue.languages["en-GB"]
    )
    assert measured["en-GB"].first_999 == pytest.approx(estimated["en-GB"].first_999 - english_advice + 12.0)
    problems = [str(p) for p in measured_problems(flow, durations)]
    line = flow.catalogue.languages["vi"].lines["opt_danger"]
    assert len(problems) == 1, problems
    assert problems[0].endswith(
        f"vi.yaml:{line}: vi: the audio of prompt 'opt_danger' lasts 9.5 s; its budget is 8 s"
    )


# --- Slower speech -----------------------------------------------------------------------------


def test_slow_key_is_announced_once_in_every_language(flow) -> None:
    for lang, language in flow.catalogue.languages.items():
        announcing = [pid for pid, text in language.texts.items() if re.search(r"(?<!\d)9(?!\d)", text)]
        assert "keys_intro" in announcing, lang
        assert set(announcing) <= {"keys_intro", "speech_slower"}, (lang, announcing)


def test_slow_mode_is_carried_through_the_whole_call(call: Call, flow) -> None:
    call.start()
    call.silence()
    call.press("6")  # Română
    main = ET.fromstring(call.silence().twiml)
    assert gather_state(main)["lang"] == "ro" and "slow" not in gather_state(main)
    assert not list(main.iter("prosody"))

    slow = ET.fromstring(call.press("9").twiml)
    assert gather_state(slow) == {"node": "main_menu", "lang": "ro", "s": "0", "i": "0", "slow": "1"}
    assert say_texts(slow)[0] == flow.catalogue.text("speech_slower", "ro")
    says = list(slow.iter("Say"))
    assert says and all(s.find("prosody").get("rate") == "80%" for s in says)
    assert all(s.get("voice") == "Polly.Carmen" for s in says)

    help_menu = ET.fromstring(call.press("2").twiml)
    assert gather_state(help_menu)["slow"] == "1"
    assert all(s.find("prosody") is not None for s in help_menu.iter("Say"))
    wrong = ET.fromstring(call.press("7").twiml)
    assert gather_state(wrong)["slow"] == "1" and gather_state(wrong)["i"] == "1"

    transfer = call.press("1")
    assert "slow=1" in transfer.dial_action
    failed = ET.fromstring(call.dial_outcome("busy").twiml)
    assert gather_state(failed)["slow"] == "1"
    assert "0 8 0 8, 2 0 0 0, 2 4 7" in " ".join(say_texts(failed))
    assert all(s.find("prosody") is not None for s in failed.iter("Say"))

    normal = ET.fromstring(call.press("9").twiml)
    assert "slow" not in gather_state(normal)
    assert say_texts(normal)[0] == flow.catalogue.text("speech_normal", "ro")
    assert not list(normal.iter("prosody"))


def test_slow_audio_is_played_when_there_is_some_else_the_normal_recording(app, client) -> None:
    install_audio(app, ["ti"])
    path = "/voice/gather?node=help_menu&lang=ti&s=0&i=0&slow=1"
    plays = [p.text for p in twiml(post_signed(client, path, {"Digits": "*"})).iter("Play")]
    assert plays and all(p.startswith("http://localhost/audio/ti/") and "-slow." not in p for p in plays)
    install_audio(app, ["ti"], slow=True)
    plays = [p.text for p in twiml(post_signed(client, path, {"Digits": "*"})).iter("Play")]
    assert plays and all(p.startswith("http://localhost/audio/ti/") and "-slow." in p for p in plays)


def test_slow_and_normal_documents_are_cached_apart(client) -> None:
    normal = post_signed(client, "/voice/gather?node=help_menu&lang=en-GB", {"Digits": "*"})
    slow = post_signed(client, "/voice/gather?node=help_menu&lang=en-GB&slow=1", {"Digits": "*"})
    again = post_signed(client, "/voice/gather?node=help_menu&lang=en-GB", {"Digits": "*"})
    assert twiml(normal).find(".//prosody") is None
    assert twiml(slow).find(".//prosody") is not None
    assert again.get_data() == normal.get_data()


def test_check_reads_offer_and_lengths_from_the_apps_audio_library(app, prompts_dir: Path) -> None:
    info = ScriptInfo(create_app=lambda: app)
    install_audio(app, ["sq"])  # Albanian has no <Say> voice: offered from its recordings alone
    result = CliRunner().invoke(cli, ["check", "--prompts", str(prompts_dir)], obj=info)
    assert result.exit_code == 0, result.output
    assert "sq (Albanian, draft): offered (fresh audio for every prompt)" in result.output

    # English 'goodbye' recorded over its 40 s budget; the slow 'welcome' far over it, but the
    # slow rendering is not measured against the budget.
    install_audio(app, ["en-GB"], slow=True, seconds={"goodbye": 41.5, "welcome@slow": 99.0})
    result = CliRunner().invoke(cli, ["check", "--prompts", str(prompts_dir)], obj=info)
    assert result.exit_code == 1
    assert re.search(
        r"en-GB\.yaml:\d+: en-GB: the audio of prompt 'goodbye' lasts 41\.5 s; its budget is 40 s",
        result.output,
    )
    assert "'welcome'" not in result.output
