"""One answer to each question about a flow, so that the parts that ask it cannot disagree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.audio.library import IMPORT_EXTENSIONS
from ivr.checks import load
from ivr.flow.queries import (
    catalogue_languages,
    declared_languages,
    heard_prompts,
    language_node,
    places,
    prompt_order,
    says_999,
    speech_seconds,
)
from ivr.services import services
from tests.helpers.admin import https_client as console
from tests.helpers.admin import make_users, sign_in
from tests.helpers.prompts import edit
from tests.helpers.twilio import ROOT


def test_every_prompt_a_caller_hears_is_listed_for_staff_the_999_advice_first_among_them(
    app, lib, ivr
) -> None:
    flow = services(app).live.current().flow
    heard = heard_prompts(flow)
    assert flow.emergency_prompt in heard
    listed = [r.prompt_id for r in lib.status(flow, "en-GB")]
    assert listed[: len(heard)] == heard  # the audio library lists them in the same order
    assert set(places(flow)) == set(heard)  # and the script says where each plays
    status = ivr("prompts", "status", "--lang", "en-GB").output
    assert re.search(rf"^  {flow.emergency_prompt}\b", status, re.M)


def test_languages_come_in_one_order_everywhere(app, ivr) -> None:
    """The order callers meet them in: the default, then the language menu's keys."""
    flow = services(app).live.current().flow
    menu = [o.lang for o in language_node(flow).options]
    assert declared_languages(flow) == menu
    assert catalogue_languages(flow) == menu
    status = ivr("prompts", "status").output
    headings = [line.split()[0] for line in status.splitlines() if line and not line.startswith(" ")]
    assert headings == menu
    check = ivr("languages", "status").output
    assert [line.split()[0] for line in check.splitlines() if not line.startswith(" ")] == menu
    make_users(app)
    web = console(app)
    sign_in(web, "ada")
    page = web.get("/admin/prompts").get_data(as_text=True)
    assert re.findall(r'<option value="([^"]+)"', page)[: len(menu)] == menu


def test_the_greeting_s_budget_is_measured_at_the_language_s_own_pace(prompts_dir: Path) -> None:
    flow, problems = load(prompts_dir)
    assert problems == []
    english = flow.catalogue.languages["en-GB"]
    greeting = [flow.catalogue.text(pid, "en-GB") for pid in flow.nodes[flow.start].say]
    assert sum(speech_seconds(text, english) for text in greeting) > 5
    # Spoken at half the pace, the same greeting gives the 999 advice too late.
    edit(prompts_dir / "en-GB.yaml", "per_second: 2.5", "per_second: 1.0")
    _, slower = load(prompts_dir)
    assert any("the 999 advice ends" in p.reason and "within 15 s" in p.reason for p in slower), slower


@pytest.mark.parametrize("text", ["dial 999", "dial 9 9 9", "dial 9-9-9", "call 9, 9, 9 now"])
def test_999_is_recognised_however_it_is_written(text: str) -> None:
    assert says_999(text)


@pytest.mark.parametrize("text", ["dial 99", "call 112", "press 9 then 9"])
def test_other_numbers_are_not_the_999_advice(text: str) -> None:
    assert not says_999(text)


def test_one_place_answers_whether_a_text_says_999() -> None:
    sources = {p: p.read_text() for p in (ROOT / "ivr").rglob("*.py")}
    asking = [str(p.relative_to(ROOT)) for p, text in sources.items() if re.search(r'"999" (not )?in', text)]
    assert asking == []
    assert "def says_999" in (ROOT / "ivr" / "flow" / "queries.py").read_text()


def test_advice_that_stops_saying_999_is_refused_once_per_language(prompts_dir: Path) -> None:
    edit(
        prompts_dir / "en-GB.yaml",
        "prompt:advice_999",
        "If you are in danger now, hang up and call the police.",
    )
    _, problems = load(prompts_dir)
    said = [p for p in problems if "does not say 999" in p.reason]
    assert len(said) == 1 and said[0].file.endswith("en-GB.yaml"), problems


def test_the_console_and_the_shell_take_the_same_audio_files(app) -> None:
    make_users(app)
    web = console(app)
    sign_in(web, "sam")
    page = web.get("/admin/prompts/welcome/en-GB").get_data(as_text=True)
    accept = re.search(r'accept="([^"]+)"', page).group(1).split(",")
    assert set(accept) - {"audio/*"} == set(IMPORT_EXTENSIONS)


def test_prompt_order_lists_every_text_of_a_language_once(app) -> None:
    flow = services(app).live.current().flow
    for lang in catalogue_languages(flow):
        order = prompt_order(flow, lang)
        assert sorted(order) == sorted(flow.catalogue.languages[lang].texts)
