"""The hostile changes of "safe changes", met in the console as staff and admins meet them: each is refused
or held with its reason on the page, and a signed call answers throughout with the 999 advice."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import expect

from tests.helpers.audio import ffmpeg, make_voice, voice_for
from tests.helpers.browser import sign_in
from tests.helpers.twilio import post_signed, twiml

# Converting a long take and listening to it for its words takes a while on a shared machine.
SLOW = 90_000


def call(app) -> tuple[list[str], list[str]]:
    """Make a signed call to the line; return the texts it says and the URLs it plays."""
    root = twiml(post_signed(app.test_client(), "/voice", {"CallSid": "CA" + "5" * 32}))
    says = [" ".join(s.itertext()) for s in root.iter("Say")]
    plays = [p.text or "" for p in root.iter("Play")]
    return says, plays


def assert_answered(app, refused: str | None = None) -> list[str]:
    """The line answers with the 999 advice, and plays nothing of a refused prompt; return what it plays."""
    says, plays = call(app)
    assert any("9 9 9" in text for text in says), says
    if refused is not None:
        assert not [url for url in plays if f"/audio/en-GB/{refused}." in url], plays
    return plays


def upload(page, prompt_id: str, take: Path, timeout: float = SLOW) -> float:
    """Upload a take on a prompt's page as test_prompts.py does; return how long the answer took."""
    page.goto(f"/admin/prompts/{prompt_id}/en-GB")
    page.locator("#audio").set_input_files(str(take))
    started = time.monotonic()
    page.locator("#upload-form").get_by_role("button", name="Upload").click()
    expect(page.locator(".flash")).to_be_visible(timeout=timeout)
    return time.monotonic() - started


def no_make_live(page) -> None:
    """The candidate's section offers no way to make it live."""
    expect(page.locator("#publish-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Make live", exact=True)).to_have_count(0)
    expect(page.locator("#candidate").get_by_role("button")).to_have_count(0)


def test_a_115_second_welcome_is_held_with_its_reasons(page, app, tmp_path):
    assert_answered(app, "welcome")
    sign_in(page, "ada")
    take = make_voice(tmp_path / "long welcome.mp3", seconds=115.0)
    upload(page, "welcome", take)
    expect(page.locator(".flash.info")).to_contain_text("your recording waits as a candidate")
    expect(page.locator("#candidate-verdict")).to_contain_text("It cannot go live")
    findings = page.locator("#findings")
    expect(findings).to_contain_text("the 999 advice in the greeting ends")
    expect(findings).to_contain_text("length for its text")
    no_make_live(page)
    expect(page.locator("#prompt-state")).to_have_text("missing")
    assert_answered(app, "welcome")
    assert page.errors == []


def test_the_welcome_said_as_the_999_advice_is_held_and_an_admin_may_override(page, app, tmp_path):
    assert_answered(app, "advice_999")
    sign_in(page, "ada")
    # The welcome's words, said slowly enough to last as long as the 999 advice plausibly takes: only
    # what it says is wrong.
    take = voice_for(tmp_path / "advice_999.wav", "welcome", extra=1.8)
    upload(page, "advice_999", take)
    expect(page.locator(".flash.info")).to_contain_text("your recording waits as a candidate")
    expect(page.locator("#candidate-verdict")).to_contain_text("It cannot go live")
    expect(page.locator("#findings")).to_contain_text("it sounds like 'welcome'")
    override = page.locator("#override")
    expect(override).to_be_visible()
    expect(page.get_by_label("Publish anyway")).to_have_count(1)
    expect(page.locator("#publish-btn")).to_have_text("Make live")
    assert_answered(app, "advice_999")
    assert page.errors == []


def test_a_silence_bomb_is_refused_at_once(page, app, tmp_path):
    bomb = tmp_path / "bomb.flac"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono:d=7200",
        "-filter_complex", "[0][1]concat=n=2:v=0:a=1",
        "-ar", "8000", "-ac", "1", "-c:a", "flac", "-frame_size", "16384", "-y", str(bomb),
    )  # fmt: skip
    assert bomb.stat().st_size < 1024 * 1024  # two hours of sound in a small file
    sign_in(page, "sam")
    took = upload(page, "main_menu_intro", bomb, timeout=15_000)
    error = page.locator(".flash.error")
    expect(error).to_contain_text("bomb.flac: refused:")
    expect(error).to_contain_text("more than the 150 seconds a prompt's file may last")
    assert took < 10, f"the upload took {took:.1f} s to answer"
    expect(page.locator("#candidate")).to_have_count(0)
    expect(page.locator("#prompt-state")).to_have_text("missing")
    assert_answered(app, "main_menu_intro")
    assert page.errors == []


def test_a_staff_change_to_the_silent_solution_waits_for_an_admin(page, app, browser, live_server, tmp_path):
    sign_in(page, "sam")
    take = voice_for(tmp_path / "silent solution.wav", "silent_solution")
    upload(page, "silent_solution", take)
    expect(page.locator(".flash.info")).to_contain_text("your recording waits as a candidate")
    expect(page.locator("#safety-critical")).to_be_visible()
    expect(page.locator("#candidate-verdict")).to_contain_text("Every rule holds")
    expect(page.locator("#approval")).to_contain_text("It waits for an admin's approval")
    no_make_live(page)
    expect(page.get_by_role("button", name="Approve and make live")).to_have_count(0)
    assert_answered(app, "silent_solution")

    context = browser.new_context(base_url=live_server, viewport={"width": 1600, "height": 900})
    context.set_default_timeout(10_000)
    try:
        admin = context.new_page()
        sign_in(admin, "ada")
        waiting = admin.locator("#pending tbody tr", has_text="silent_solution (en-GB)")
        expect(waiting).to_have_count(1)
        expect(waiting).to_contain_text("sam")
        expect(waiting).to_contain_text("an admin's approval")
        waiting.get_by_role("link", name="silent_solution (en-GB)").click()
        admin.wait_for_url("**/admin/prompts/silent_solution/en-GB")
        form = admin.locator("#publish-form")
        approve = form.get_by_role("button", name="Approve and make live")
        expect(approve).to_be_visible()
        expect(admin.locator("#override")).to_have_count(0)
        form.locator("#confirm").check()
        approve.click()
        expect(admin.locator(".flash.info")).to_contain_text("is live: callers hear it from the next call.")
        expect(admin.locator("#prompt-state")).to_have_text("fresh")
        expect(admin.locator("#candidate")).to_have_count(0)
        admin.goto("/admin/")
        expect(admin.locator("#pending")).to_have_text("No changes are waiting.")
    finally:
        context.close()

    plays = assert_answered(app)
    assert [url for url in plays if "/audio/en-GB/silent_solution." in url], plays
    assert page.errors == []
