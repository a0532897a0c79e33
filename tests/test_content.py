"""Everything the source page says is said somewhere in the flow (CONTENT.md, 'From the page')."""

from __future__ import annotations

import re

import pytest

from ivr.checks import load
from ivr.flow.catalogue import spell_number
from tests.helpers.twilio import ROOT

FLOW, _ = load(ROOT / "prompts")
assert FLOW is not None
USED = {
    pid
    for node in FLOW.nodes.values()
    for pid in (*node.say, *node.failed_say, *(o.say for o in node.options))
}
SPOKEN = " ".join(FLOW.catalogue.text(pid, "en-GB") for pid in sorted(USED)).lower()

FACTS = {
    "trafficking moves a person into exploitation": ["moving a person", "exploited"],
    "by deception, coercion, power or vulnerability": ["lies", "pressure", "power", "weakness"],
    "consent can still be trafficking": ["even if the person agreed"],
    "it can happen inside one country": ["inside one country"],
    "forced labour: long hours, hard conditions, wages": ["very long hours", "hard conditions", "wages"],
    "coercion and no freedom or choice": ["no freedom or choice"],
    "threats or violence": ["threatened or hurt"],
    "the industries": ["manufacturing", "entertainment", "travel", "farming", "building"],
    "reports have risen": ["more cases have been reported"],
    "many housed in one dwelling and hot bunking": ["many people are housed in one home", "hot bunk"],
    "the ILO's six elements": [
        "six signs",
        "physical harm",
        "not being free to move",
        "debt bondage",
        "wages held back",
        "identity papers",
        "immigration status",
    ],
    "slavery and trafficking risk order": [
        "risk order",
        "has not been",
        "national crime agency",
        "immigration officer",
        "magistrates' court",
        "protect the public",
    ],
    "slavery and trafficking prevention order": ["prevention order", "already", "when they are convicted"],
    "report to local police first": ["local police force first"],
    "999 when urgent": ["urgent information", spell_number("999")],
    "crimestoppers anonymously": [
        "crimestoppers",
        "do not have to give your name",
        spell_number("0800 555 111"),
    ],
    "refuge and what it offers": [
        "refuge offers",
        "domestic abuse",
        "stalking",
        "honour-based violence",
        "trafficking",
        "forced marriage",
        "female genital mutilation",
        spell_number("0808 2000 247"),
    ],
    "DVS by text": ["d v s", spell_number("82228")],
    "the silent solution": [
        spell_number("5 5"),
        "recorded police message",
        "does not tell the police where you are",
    ],
    "no 55 step on a landline": ["on a landline"],
}


@pytest.mark.parametrize("fact", FACTS)
def test_fact_is_said(fact: str) -> None:
    missing = [phrase for phrase in FACTS[fact] if phrase.lower() not in SPOKEN]
    assert not missing, f"{fact}: not said: {missing}"


def test_every_number_is_read_twice_where_it_is_given() -> None:
    for pid in USED:
        raw = FLOW.catalogue.raw(pid, "en-GB")
        for name in set(re.findall(r"\{(\w+)\}", raw)):
            contact = FLOW.contacts[name]
            if contact.e164 or name == "dvs_text":
                assert raw.count("{" + name + "}") >= 2, f"{pid} reads {name} once"


def test_keys_are_named_the_british_way() -> None:
    assert "star" in SPOKEN and "hash" in SPOKEN
    assert "asterisk" not in SPOKEN and "pound" not in SPOKEN
