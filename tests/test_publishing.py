"""Safe changes: every change to a prompt's audio is a candidate; the caller's rules decide publishing."""

from __future__ import annotations

import getpass
import html
import shutil
import subprocess
from pathlib import Path

import pytest
import responses

from ivr.audio import publishing
from ivr.audio.publishing import PublishRefused, pending, publish, safety_critical
from ivr.services import services
from tests.helpers.admin import https_client, make_users, sign_in
from tests.helpers.audio import ffmpeg, gtts_mp3, make_voice, mock_google
from tests.helpers.parts import missing
from tests.helpers.reload import settled
from tests.helpers.twilio import post_signed, twiml


@pytest.fixture
def candidate(app, lib, flow, tmp_path: Path):
    """Make a candidate of a prompt from a voice-like recording of the given length."""

    def make(prompt_id: str, seconds: float, by: str = "sam", role: str = "staff", lang: str = "en-GB"):
        take = make_voice(tmp_path / f"{prompt_id}-{seconds}.wav", seconds=seconds)
        return lib.import_recording(flow, prompt_id, lang, take, take.name, by=by, role=role)

    return make


def greeting_plays(app) -> list[str]:
    root = twiml(post_signed(app.test_client(), "/voice", {"CallSid": "CA" + "3" * 32}))
    return [p.text or "" for p in root.iter("Play")]


def test_a_candidate_plays_nowhere_until_it_is_published(app, lib, flow, candidate, ivr) -> None:
    row = candidate("welcome", 2.4)
    assert row.candidate is not None and row.state == "missing"  # nothing live yet
    assert greeting_plays(app) == []
    listed = ivr("prompts", "pending")
    assert (
        "en-GB/welcome v1 by sam" in listed.output and "safety-critical: waits for an admin" in listed.output
    )
    done = ivr("prompts", "publish", "welcome")
    assert done.exit_code == 0, done.output
    settled(app)
    plays = greeting_plays(app)
    assert len(plays) == 1 and "/audio/en-GB/welcome." in plays[0]
    assert ivr("prompts", "pending").output.startswith("No candidates")
    assert lib.history(flow, "welcome", "en-GB")[0].published.endswith(
        f"by shell:{getpass.getuser()} (approved)"
    )


def test_a_long_welcome_cannot_go_live_and_says_why(app, lib, flow, candidate, ivr) -> None:
    """A 115-second welcome would put the 999 advice two minutes into the call."""
    candidate("welcome", 115.0)
    done = ivr("prompts", "publish", "welcome")
    assert done.exit_code == 1
    assert "the 999 advice in the greeting ends" in done.output and "must end within 15 s" in done.output
    assert "length for its text: it lasts 115" in done.output
    assert greeting_plays(app) == []  # callers still hear the welcome spoken, 999 advice early
    assert "breaks a rule" in ivr("prompts", "pending").output


def test_any_version_can_go_live_again_forwards_or_back(app, lib, flow, candidate, ivr) -> None:
    candidate("main_menu_intro", 0.9, role="admin", by="ada")
    first = ivr("prompts", "publish", "main_menu_intro")
    assert first.exit_code == 0, first.output
    candidate("main_menu_intro", 1.1, role="admin", by="ada")
    assert ivr("prompts", "publish", "main_menu_intro").exit_code == 0
    assert [v.current for v in lib.history(flow, "main_menu_intro", "en-GB")] == [True, False]
    back = ivr("prompts", "rollback", "main_menu_intro")
    assert back.exit_code == 0, back.output
    assert ivr("prompts", "publish", "main_menu_intro", "--version", "1").exit_code == 0
    assert [v.current for v in lib.history(flow, "main_menu_intro", "en-GB")] == [False, True]
    assert ivr("prompts", "publish", "main_menu_intro", "--version", "2").exit_code == 0  # and forwards
    assert [v.current for v in lib.history(flow, "main_menu_intro", "en-GB")] == [True, False]


def test_a_staff_change_to_a_safety_critical_prompt_waits_for_an_admin(app, lib, flow, candidate) -> None:
    keeping_safe = {"welcome", "advice_999", "silent_solution", "transfer_refuge", "transfer_failed"}
    assert keeping_safe <= safety_critical(flow)
    assert "opt_learn" not in safety_critical(flow)
    candidate("silent_solution", 5.5, by="sam", role="staff")
    with pytest.raises(PublishRefused, match="an admin must approve") as staff:
        publish(lib, flow, "silent_solution", "en-GB", by="sam", role="staff")
    assert staff.value.findings[0].rule == "four eyes"
    assert pending(lib, flow)[0].needs_approval
    publish(lib, flow, "silent_solution", "en-GB", by="ada", role="admin")
    candidate("silent_solution", 5.7, by="ada", role="admin")  # an admin's own change needs no second pair
    publish(lib, flow, "silent_solution", "en-GB", by="ada", role="admin")
    candidate("welcome", 2.4, by="ben", role="staff")
    publish(lib, flow, "welcome", "en-GB", by="ada", role="admin")


def test_an_admin_cannot_approve_their_own_staff_change(app, lib, flow, candidate) -> None:
    candidate("welcome", 2.4, by="dual", role="staff")
    with pytest.raises(PublishRefused, match="another admin") as own:
        publish(lib, flow, "welcome", "en-GB", by="dual", role="admin")
    assert "cannot approve their own" in str(own.value.findings[0])


def install_raw(lib, flow, tmp_path: Path, prompt_id: str, *filters: str, seconds: float = 3.5) -> list[str]:
    """Install a file made straight with ffmpeg (not through the conversion) and judge it."""
    raw = tmp_path / f"raw-{prompt_id}.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", *filters,
           "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", "-y", str(raw))  # fmt: skip
    copy = tmp_path / "copy.wav"
    shutil.copyfile(raw, copy)
    lib.install(flow, prompt_id, "en-GB", False, copy, "recording", seconds, by="ada", role="admin")
    return [f.rule for f in publishing.findings_for(lib, flow, prompt_id, "en-GB")]


@pytest.mark.parametrize(
    ("filters", "rule"),
    [
        (("-af", "volume=-30dB"), "loudness"),
        (("-af", "adelay=2000,apad=pad_dur=0.1"), "silence"),
        (("-af", "volume=30dB"), "clipping"),
    ],
    ids=["too-quiet", "silence-first", "clipped"],
)
def test_a_file_is_measured_before_it_goes_live(app, lib, flow, tmp_path: Path, filters, rule: str) -> None:
    assert rule in install_raw(lib, flow, tmp_path, "main_menu_intro", *filters)


def test_a_plausible_recording_breaks_no_rule(app, lib, flow, candidate) -> None:
    candidate("main_menu_intro", 0.9)
    assert publishing.findings_for(lib, flow, "main_menu_intro", "en-GB") == []


def test_calls_are_answered_while_a_candidate_waits(app, candidate) -> None:
    candidate("welcome", 115.0)
    root = twiml(post_signed(app.test_client(), "/voice", {"CallSid": "CA" + "4" * 32}))
    texts = [" ".join(s.itertext()) for s in root.iter("Say")]
    assert any("9 9 9" in t for t in texts[:3])
    assert services(app).live.current().flow is not None


def test_check_review_and_publishing_say_the_same_of_the_same_audio(app, lib, flow, candidate, ivr):
    """The same too-long welcome: refused as a candidate, and named alike by `ivr check` and the console."""
    made = candidate("welcome", 115.0, by="ada", role="admin")
    with pytest.raises(PublishRefused) as refused:
        publish(lib, flow, "welcome", "en-GB", by="ada", role="admin")
    said = {f.says for f in refused.value.findings if f.rule == "the caller's rules"}
    assert any("999 advice in the greeting ends" in s for s in said)
    # Were it live (an older line, a hand edit of the manifest), the check and the review would say the same.
    entry = lib.entry("welcome", "en-GB")
    assert entry["candidate"] == made.candidate
    lib.update(lambda entries: entries["en-GB/welcome"].update(current=made.candidate))
    checked = ivr("check", "--prompts", str(flow.path.parent))
    assert checked.exit_code == 1
    make_users(app)
    web = https_client(app)
    sign_in(web, "ada")
    page = html.unescape(web.get("/admin/flow").get_data(as_text=True))
    for says in said:
        assert says in checked.output, says
        assert says in page, says


def espeak(path: Path, text: str) -> Path:
    """Make espeak-ng say a text into a WAV file: real speech, for the recogniser."""
    if shutil.which("espeak-ng") is None:
        missing("espeak-ng is not installed (apt-get install espeak-ng): no real speech to recognise")
    subprocess.run(
        ["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(path), text], check=True, capture_output=True
    )
    return path


def test_the_welcome_recorded_as_the_999_advice_is_refused(app, lib, flow, tmp_path: Path, ivr) -> None:
    """The 999 advice must say the 999 advice: a recording of another prompt cannot replace it."""
    wrong = espeak(tmp_path / "advice_999.wav", flow.catalogue.text("welcome", "en-GB"))
    lib.import_recording(flow, "advice_999", "en-GB", wrong, wrong.name, by="ada", role="admin")
    with pytest.raises(PublishRefused) as refused:
        publish(lib, flow, "advice_999", "en-GB", by="ada", role="admin")
    said = [f for f in refused.value.findings if f.rule == "says its text"]
    assert said and "it sounds like 'welcome'" in said[0].says
    held = ivr("prompts", "publish", "advice_999")
    assert held.exit_code == 1 and "says its text: it sounds like 'welcome'" in held.output
    right = espeak(tmp_path / "right.wav", flow.catalogue.text("advice_999", "en-GB"))
    lib.import_recording(flow, "advice_999", "en-GB", right, right.name, by="ada", role="admin")
    assert not [
        f for f in publishing.findings_for(lib, flow, "advice_999", "en-GB") if f.rule == "says its text"
    ]


def test_an_admin_may_override_what_the_recogniser_cannot_hear(app, lib, flow, candidate, ivr) -> None:
    candidate("advice_999", 2.5, by="ada", role="admin")  # a tone: no words to recognise
    refused = ivr("prompts", "publish", "advice_999")
    assert refused.exit_code == 1 and "its words could not be recognised" in refused.output
    done = ivr("prompts", "publish", "advice_999", "--override")
    assert done.exit_code == 0, done.output
    assert "override" in lib.entry("advice_999", "en-GB")["versions"][-1]


def test_a_render_held_as_candidates_is_not_asked_for_again(app, lib, flow, ivr) -> None:
    """The second run finds the first run's candidates waiting: it asks Google for nothing more."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        google = mock_google(rsps, gtts_mp3(0.8))
        first = ivr("prompts", "render", "main_menu_intro", "opt_learn", "--lang", "en-GB", "--hold")
        assert first.exit_code == 0, first.output
        asked = len(google.asked)
        assert asked >= 2
        again = ivr("prompts", "render", "main_menu_intro", "opt_learn", "--lang", "en-GB")
    assert again.exit_code == 0, again.output
    assert len(google.asked) == asked
    assert "2 waiting to go live" in again.output
    assert [v.version for v in lib.history(flow, "main_menu_intro", "en-GB")] == [1]
