"""Plain prompts, in every language: no sentence a caller hears is longer than its language allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.checks import load
from ivr.checks.accessibility import sentence_lengths
from ivr.flow import Problem
from ivr.flow.catalogue import sentence_limit
from ivr.flow.queries import declared_languages, heard_prompts
from tests.helpers.prompts import edit
from tests.helpers.twilio import ROOT

FLOW, _ = load(ROOT / "prompts")
assert FLOW is not None
HEARD = [
    (lang, pid)
    for lang in declared_languages(FLOW)
    for pid in heard_prompts(FLOW)
    if FLOW.catalogue.has(pid, lang)
]

# 35 words in one sentence, 13 in the next: only the first is too long.
LONG_ENGLISH = (
    "Refuge runs safe houses and outreach and resettlement work for women and children all over the "
    "country, and it answers the phone at any hour of the day or night for anyone who needs it. "
    "It is free and it is confidential, and nobody will ask your name."
)
# 49 Chinese characters and "Refuge" (one run of letters) in one sentence, then a short one.
LONG_CHINESE = (
    "Refuge为经历过家庭暴力、跟踪骚扰、以名誉为由的暴力、人口贩卖、强迫婚姻或女性生殖器切割的妇女和儿童提供帮助和支持。"
    "号码是{refuge}。"
)


def sentence_problems(problems: list[Problem]) -> list[Problem]:
    """Return the problems of the plain-sentence rule."""
    return [p for p in problems if "has a sentence of" in p.reason]


def line_of(path: Path, number: int | None) -> str:
    """Return a line of a file by its 1-based number."""
    assert number is not None
    return path.read_text(encoding="utf-8").splitlines()[number - 1]


def test_a_long_sentence_is_found_counting_words(prompts_dir: Path) -> None:
    edit(prompts_dir / "en-GB.yaml", "prompt:refuge_about", LONG_ENGLISH)
    flow, problems = load(prompts_dir)
    found = sentence_problems(problems)
    assert [p.reason for p in found] == [
        "en-GB: prompt 'refuge_about' has a sentence of 35 words; at most 25 "
        '("Refuge runs safe houses and outreach ...")'
    ]
    assert found[0].file.endswith("prompts/en-GB.yaml")
    assert "refuge_about:" in line_of(prompts_dir / "en-GB.yaml", found[0].line)


def test_a_long_sentence_is_found_counting_characters(prompts_dir: Path) -> None:
    edit(prompts_dir / "zh-CN.yaml", "prompt:refuge_about", LONG_CHINESE)
    _, problems = load(prompts_dir)
    found = sentence_problems(problems)
    assert len(found) == 1, [str(p) for p in problems]
    assert found[0].reason.startswith(
        "zh-CN: prompt 'refuge_about' has a sentence of 50 characters; at most 40 (\"Refuge为经历过"
    )
    assert found[0].file.endswith("prompts/zh-CN.yaml")
    assert "refuge_about:" in line_of(prompts_dir / "zh-CN.yaml", found[0].line)


def test_each_too_long_sentence_of_a_prompt_is_named(prompts_dir: Path) -> None:
    edit(
        prompts_dir / "pl.yaml",
        "prompt:signs_more",
        " ".join(["słowo"] * 26) + ". " + " ".join(["inne"] * 30),
    )
    _, problems = load(prompts_dir)
    reasons = [p.reason for p in sentence_problems(problems)]
    assert reasons == [
        "pl: prompt 'signs_more' has a sentence of 26 words; at most 25 "
        '("słowo słowo słowo słowo słowo słowo ...")',
        "pl: prompt 'signs_more' has a sentence of 30 words; at most 25 "
        '("inne inne inne inne inne inne inne inne ...")',
    ]


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        pytest.param("To get help, press 2.", "word", [5], id="words"),
        pytest.param(
            "The number is {refuge}. Again: {refuge}.", "word", [4, 2], id="a-placeholder-is-one-word"
        ),
        pytest.param(
            "One. Two words! Three more words? Four; five", "word", [1, 2, 3, 1, 1], id="latin-stops"
        ),
        pytest.param("أين أنت؟ أنا هنا۔ حسناً؛ نعم", "word", [2, 2, 1, 1], id="arabic-stops"),
        pytest.param("يُجبر الضحايا على العمل", "word", [4], id="arabic-vowel-marks-split-no-word"),
        pytest.param("ሓደ ክልተ። ሰለስተ", "word", [2, 1], id="ethiopic-full-stop"),
        pytest.param(
            "号码是{refuge}。再说一遍！好吗？是的；好", "character", [4, 4, 2, 2, 1], id="chinese-stops"
        ),
        pytest.param("如需与Refuge通话，请按0。", "character", [9], id="a-latin-name-is-one-character"),
        pytest.param("家庭暴力、跟踪骚扰。", "character", [8], id="chinese-punctuation-is-no-character"),
        pytest.param("  \n. ;", "word", [], id="nothing-said"),
    ],
)
def test_sentences_are_split_and_counted(text: str, unit: str, expected: list[int]) -> None:
    assert [length for _, length in sentence_lengths(text, unit)] == expected


def test_the_written_text_is_counted_not_the_spelled_number() -> None:
    assert FLOW is not None
    text = FLOW.catalogue.raw("refuge_number", "en-GB")
    spoken = FLOW.catalogue.text("refuge_number", "en-GB")
    assert "{refuge}" in text and "0 8 0 8" in spoken
    assert max(n for _, n in sentence_lengths(text, "word")) < max(
        n for _, n in sentence_lengths(spoken, "word")
    )


def test_a_limit_in_meta_is_respected_per_language(prompts_dir: Path) -> None:
    # Polish allows ten words: its longer sentences are refused; English, still at 25, is not affected.
    edit(
        prompts_dir / "pl.yaml",
        '  sentence: {"unit": "word", "max": 25}',
        '  sentence: {"unit": "word", "max": 10}',
    )
    _, problems = load(prompts_dir)
    found = sentence_problems(problems)
    assert found and all(p.reason.startswith("pl: ") and "; at most 10 (" in p.reason for p in found)
    assert all(p.file.endswith("prompts/pl.yaml") for p in found)
    # English allows forty: a 35-word sentence passes.
    edit(prompts_dir / "en-GB.yaml", "prompt:refuge_about", LONG_ENGLISH)
    edit(prompts_dir / "en-GB.yaml", "sentence: {unit: word, max: 25}", "sentence: {unit: word, max: 40}")
    _, problems = load(prompts_dir)
    assert not [p for p in sentence_problems(problems) if p.reason.startswith("en-GB: ")]


def test_without_the_key_a_catalogue_gets_the_default(prompts_dir: Path) -> None:
    edit(prompts_dir / "en-GB.yaml", "  sentence: {unit: word, max: 25}", "  # no sentence limit given")
    edit(prompts_dir / "zh-CN.yaml", '  sentence: {"unit": "character", "max": 40}\n', "")
    flow, problems = load(prompts_dir)
    assert flow is not None and problems == []
    languages = flow.catalogue.languages
    assert "sentence" not in languages["en-GB"].meta
    assert sentence_limit(languages["en-GB"]) == (25, "word")
    # A Chinese catalogue counts characters, as its pace does: 40 of them.
    assert sentence_limit(languages["zh-CN"]) == (40, "character")
    edit(prompts_dir / "en-GB.yaml", "prompt:refuge_about", LONG_ENGLISH)
    assert ["at most 25" in p.reason for p in sentence_problems(load(prompts_dir)[1])] == [True]


def test_the_shipped_limits_are_read_from_meta() -> None:
    assert FLOW is not None
    for lang, language in FLOW.catalogue.languages.items():
        expected = (40, "character") if lang == "zh-CN" else (25, "word")
        assert language.meta["sentence"] == {"unit": expected[1], "max": expected[0]}, lang
        assert sentence_limit(language) == expected, lang


INVALID = [
    pytest.param("sentence: {unit: word, max: 0}", "'max' must be the most words", id="max-zero"),
    pytest.param("sentence: {unit: word, max: 2.5}", "the number 2.5", id="max-not-whole"),
    pytest.param("sentence: {unit: word, max: many}", "not the text 'many'", id="max-text"),
    pytest.param("sentence: {unit: word, max: true}", "not true (yes/no)", id="max-yes-no"),
    pytest.param("sentence: {unit: word, max: 1000}", "a whole number from 1 to 200", id="max-too-big"),
    pytest.param(
        "sentence: {unit: syllable, max: 25}", "unit 'syllable' is not one of word, character", id="unit"
    ),
    pytest.param(
        "sentence: {unit: word, max: 25, min: 3}", "meta: sentence: unknown field 'min'", id="unknown"
    ),
    pytest.param("sentence: 25", "meta: 'sentence' must be a mapping, not the number 25", id="not-a-mapping"),
]


@pytest.mark.parametrize(("new", "reason"), INVALID)
def test_an_invalid_limit_is_a_problem_at_its_line(prompts_dir: Path, new: str, reason: str) -> None:
    path = prompts_dir / "en-GB.yaml"
    edit(path, "sentence: {unit: word, max: 25}", new)
    flow, problems = load(prompts_dir)
    assert flow is not None
    found = [p for p in problems if reason in p.reason]
    assert found, "\n".join(str(p) for p in problems)
    assert found[0].file.endswith("prompts/en-GB.yaml")
    assert line_of(path, found[0].line).strip().startswith("sentence:")
    # The limit falls back to the default rather than failing the check.
    assert sentence_limit(flow.catalogue.languages["en-GB"])[0] == 25


def test_an_invalid_limit_in_block_style_names_the_value_line(prompts_dir: Path) -> None:
    path = prompts_dir / "ro.yaml"
    edit(path, '  sentence: {"unit": "word", "max": 25}', "  sentence:\n    unit: word\n    max: -3")
    _, problems = load(prompts_dir)
    found = [p for p in problems if "meta: sentence: 'max'" in p.reason]
    assert len(found) == 1 and found[0].reason.endswith("not the number -3")
    assert line_of(path, found[0].line).strip() == "max: -3"


def test_every_shipped_catalogue_passes() -> None:
    _, problems = load(ROOT / "prompts")
    assert problems == []
    assert FLOW is not None and len(declared_languages(FLOW)) == 8


@pytest.mark.parametrize(("lang", "pid"), HEARD, ids=[f"{lang}-{pid}" for lang, pid in HEARD])
def test_the_longest_sentence_is_within_the_limit(lang: str, pid: str) -> None:
    assert FLOW is not None
    most, unit = sentence_limit(FLOW.catalogue.languages[lang])
    sentences = sentence_lengths(FLOW.catalogue.raw(pid, lang), unit)
    assert sentences, f"{lang} {pid}: nothing said"
    sentence, length = max(sentences, key=lambda found: found[1])
    assert length <= most, f"{lang} {pid}: {length} {unit}s, at most {most}: {sentence!r}"
