"""Staff pages that help, in headless Chromium: finding a prompt, local times, error pages with a way back,
the file size checked before upload, and a simulator that plays like a call."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.helpers.audio import make_voice
from tests.helpers.browser import screenshot, sign_in
from tests.helpers.console import PROMPT, PROMPT_PAGE, prompt_with_history

LIMIT = 200_000  # bytes: the upload limit here, so that a file over it is small to make


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "ADMIN_UPLOAD_BYTES": LIMIT}


def test_staff_find_a_prompt_by_words_state_waiting_or_safety(page, app, tmp_path):
    prompt_with_history(app, tmp_path)
    sign_in(page, "sam")
    page.goto("/admin/prompts")
    rows = page.locator("#prompts tbody tr")
    every = rows.count()
    row = page.locator(f"#row-{PROMPT}")
    expect(row).to_contain_text("Heard: main_menu (menu)")
    expect(row).to_contain_text("version 3 waiting")

    page.get_by_label("Words or id").fill("refuge")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#library-count")).not_to_contain_text(f"{every} of {every}")
    for text in rows.all_inner_texts():
        assert "refuge" in text.lower()

    page.get_by_role("link", name="Show every prompt").click()
    expect(rows).to_have_count(every)
    page.get_by_label("Only with a change waiting to go live").check()
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_id(f"row-{PROMPT}")
    screenshot(page, "12-prompt-library-waiting")

    page.get_by_label("Only with a change waiting to go live").uncheck()
    page.get_by_label("Only safety-critical").check()
    page.get_by_role("button", name="Show").click()
    assert 0 < rows.count() < every
    for text in rows.all_inner_texts():
        assert "safety-critical" in text
    page.get_by_label("State").select_option("fresh")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_text(["No prompt matches."])
    assert page.errors == []


def test_times_are_shown_in_the_viewer_s_time_zone(browser, live_server, app, tmp_path):
    prompt_with_history(app, tmp_path)
    context = browser.new_context(base_url=live_server, timezone_id="Asia/Tokyo", locale="en-GB")
    try:
        page = context.new_page()
        sign_in(page, "sam")
        page.goto(PROMPT_PAGE)
        shown = page.locator("#history time.local").first
        utc = datetime.fromisoformat(shown.get_attribute("datetime").replace("Z", "+00:00"))
        tokyo = utc.astimezone(ZoneInfo("Asia/Tokyo"))
        expect(shown).to_contain_text(tokyo.strftime("%H:%M"))
        expect(shown).to_contain_text("GMT+9")
        expect(shown).to_have_attribute("title", utc.strftime("%Y-%m-%d %H:%M UTC"))
    finally:
        context.close()


def test_error_pages_are_the_console_s_and_lead_back(page):
    sign_in(page, "sam")
    response = page.goto("/admin/prompts/no_such_prompt/en-GB")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    screenshot(page, "13-error-404")
    page.get_by_role("link", name="Go to the console's home page").click()
    page.wait_for_url("**/admin/")

    page.goto("/admin/prompts")
    page.evaluate("location.assign('/admin/flow')")  # a staff member follows an old link to the flow
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is for admins")
    page.get_by_role("link", name="Go back to the page you came from").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Prompt library")


def test_an_expired_form_says_so_and_works_again_once_reloaded(page, app, tmp_path):
    prompt_with_history(app, tmp_path, candidate=False)
    sign_in(page, "sam")
    page.goto(PROMPT_PAGE)
    app.config["WTF_CSRF_TIME_LIMIT"] = 1  # the page was left open for longer than a form lasts
    page.wait_for_timeout(2100)
    page.get_by_role("button", name="Roll back to the previous audio").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")
    expect(page.locator("#error-words")).to_contain_text("Nothing was changed")
    screenshot(page, "14-error-expired-form")
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    page.get_by_role("link", name="Go back to the page you came from").click()
    page.get_by_role("button", name="Roll back to the previous audio").click()
    expect(page.locator("#flash-status")).to_contain_text("the previous audio waits as a candidate")


def test_a_file_too_large_is_stopped_in_the_browser_with_a_clear_message(page, tmp_path):
    large = make_voice(tmp_path / "long take.wav", seconds=3.0)
    assert large.stat().st_size > LIMIT
    small = make_voice(tmp_path / "short take.mp3", seconds=0.8, lead=0.3, tail=0.3)
    assert small.stat().st_size < LIMIT
    sign_in(page, "sam")
    page.goto(PROMPT_PAGE)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    field = page.get_by_label("A recording")
    expect(page.locator("#upload-form")).to_contain_text("at most 0.191 MB")
    field.set_input_files(str(large))
    message = page.locator("#audio-error")
    size = f"{large.stat().st_size / (1024 * 1024):.1f}".removesuffix(".0")
    expect(message).to_contain_text(f"long take.wav is {size} MB: the console takes at most 0.2 MB")
    expect(field).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_timeout(300)
    assert sent == []  # nothing was uploaded
    screenshot(page, "15-upload-too-large")
    field.set_input_files(str(small))
    expect(message).to_have_text("")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#flash-status")).to_contain_text("your recording waits as a candidate")


def test_a_kept_recording_s_message_is_shown_after_the_reload(page):
    sign_in(page, "sam")
    page.goto(PROMPT_PAGE)
    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.locator("#rec-status")).to_contain_text("Listen, then keep it")
    with page.expect_navigation():
        page.get_by_role("button", name="Keep it").click()
    expect(page.get_by_role("status").filter(has_text="waits as a candidate")).to_have_count(1)
    expect(page.locator("#history tbody tr").first).to_contain_text("browser-recording")


def test_a_message_moves_on_by_itself_after_its_silence(page, flow):
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    first = page.locator(".turn").first
    after = flow.nodes[flow.start].next
    expect(first.locator(".silence.wait")).to_contain_text(
        f"after {flow.limits.pass_timeout} s of silence the call moves on to {after}"
    )
    expect(page.locator("#sim-status")).to_contain_text("it moves on by itself")
    expect(first.locator(".countdown")).to_contain_text("Moving on in")
    # Nothing pressed: as on a real call, the greeting's silence passes and the language menu follows.
    expect(page.locator(".turn")).to_have_count(2, timeout=8000)
    second = page.locator(".turn").last
    expect(second.locator("h3")).to_have_text(f"{flow.limits.pass_timeout} s of silence: the call moves on")
    expect(page.locator("#sim-status")).to_contain_text(f"At {after}")
    expect(second.locator(".silence.wait")).to_contain_text(
        f"after {flow.limits.gather_timeout} s of silence the call goes on in English"
    )
    page.wait_for_timeout(1000 * flow.limits.pass_timeout + 500)
    expect(page.locator(".turn")).to_have_count(2)  # a menu waits for the caller
    assert page.errors == []


def test_recordings_show_their_prompt_and_words_with_a_play_button(page, app, tmp_path, flow):
    prompt_with_history(app, tmp_path, candidate=False)
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    page.get_by_role("button", name="Press 1").click()  # English: the keys, then the main menu by itself
    expect(page.locator("#sim-status")).to_contain_text("At main_menu", timeout=8000)
    played = page.locator(".turn").last.locator(".heard > li.play")
    expect(played).to_have_count(1)
    expect(played.locator(".pid")).to_have_text(PROMPT)
    expect(played.locator("q")).to_have_text(flow.catalogue.text(PROMPT, "en-GB"))
    expect(played.locator(".file")).to_contain_text(f"/audio/en-GB/{PROMPT}.")
    expect(page.locator(".turn").last.locator(".silence.wait")).to_contain_text(
        f"after {flow.limits.gather_timeout} s of silence the line asks again"
    )
    page.get_by_role("button", name=f"Play the recording of {PROMPT}").click()
    file = played.locator(".file").inner_text()
    expect(page.locator("#player")).to_have_attribute("src", re.compile(re.escape(file) + "$"))
    page.get_by_role("button", name="Press 0").click()
    expect(page.locator(".turn").last.locator(".ringing")).to_have_text(
        f"The caller hears ringing, for up to {flow.limits.dial_timeout} s."
    )
    screenshot(page, "16-simulator-recordings-and-silences")
    assert page.errors == []
