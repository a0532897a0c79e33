"""The prompt library in headless Chromium: upload, record with the microphone, make it live, hear it,
roll back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ivr.services import services
from tests.browser.conftest import ARGS, CHROMIUM
from tests.helpers import audio as audio_helpers
from tests.helpers.browser import screenshot, sign_in

PAGE = "/admin/prompts/main_menu_intro/en-GB"


@pytest.fixture(scope="module")
def browser(browser, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Chromium whose fake microphone hears a voice-like sound, over and over. Its own beeps (a few
    milliseconds twice a second) cannot be brought to the line's loudness within the peak ceiling, so
    a take of them could never go live."""
    voice = tmp_path_factory.mktemp("microphone") / "voice.wav"
    audio_helpers.make_voice(voice, seconds=3.0, lead=0.0, tail=0.0)
    args = [*ARGS, f"--use-file-for-fake-audio-capture={voice}"]
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    yield chromium
    chromium.close()


def make_live(page) -> None:
    """Tick that the candidate was heard and make it live, as the person signed in does (the main menu's
    intro keeps nobody safe: the staff member who made it may)."""
    form = page.locator("#publish-form")
    form.get_by_role("checkbox").check()
    form.get_by_role("button").click()
    expect(page.locator(".flash.info")).to_contain_text("is live: callers hear it from the next call.")


def test_upload_becomes_fresh_and_a_bad_upload_is_refused(page, app, tmp_path):
    sign_in(page, "sam")
    page.get_by_role("navigation").get_by_role("link", name="Prompts").click()
    row = page.locator("#row-main_menu_intro")
    expect(row).to_have_attribute("data-state", "missing")
    screenshot(page, "06-prompt-library")
    row.get_by_role("link", name="main_menu_intro").click()
    expect(page.locator("#prompt-state")).to_have_text("missing")

    bad = tmp_path / "notes.wav"
    bad.write_text("this is not a recording")
    page.get_by_label("A recording").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash.error")).to_contain_text("notes.wav: this file is not audio")
    expect(page.locator("#prompt-state")).to_have_text("missing")
    screenshot(page, "07-prompt-bad-upload")

    # "Main menu.", said a little slowly: as long as it plausibly takes to say.
    take = audio_helpers.voice_for(tmp_path / "studio take.mp3", "main_menu_intro", extra=0.5)
    page.get_by_label("A recording").set_input_files(str(take))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash.info")).to_contain_text("your recording waits as a candidate")
    expect(page.locator("#prompt-state")).to_have_text("missing")  # it plays nowhere yet
    expect(page.locator("#candidate-verdict")).to_contain_text("Every rule holds")
    make_live(page)
    expect(page.locator("#prompt-state")).to_have_text("fresh")
    expect(page.locator("#prompt-source")).to_have_text("recording")
    # The player's file is served and the browser can decode it.
    duration = page.locator("#current-audio").evaluate(
        "a => new Promise(ok => { a.onloadedmetadata = () => ok(a.duration); a.load(); })"
    )
    flow = services(app).live.current().flow
    assert duration == pytest.approx(
        services(app).audio.prompt(flow, "main_menu_intro", "en-GB").duration, abs=0.1
    )
    screenshot(page, "08-prompt-fresh")
    page.goto("/admin/prompts?state=fresh")
    expect(page.locator("#prompts tbody tr")).to_have_count(1)
    assert page.errors == []


def test_record_in_the_browser_hear_it_in_the_simulator_then_roll_back(page, tmp_path):
    sign_in(page, "sam")
    first = audio_helpers.voice_for(tmp_path / "first.wav", "main_menu_intro")
    page.goto(PAGE)
    page.get_by_label("A recording").set_input_files(str(first))
    page.get_by_role("button", name="Upload").click()
    make_live(page)
    expect(page.locator("#prompt-state")).to_have_text("fresh")

    # Record with Chromium's fake microphone, listen, discard; record again and keep it.
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.locator("#rec-status")).to_contain_text("Recording")
    page.wait_for_timeout(2500)
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.locator("#rec-preview")).to_be_visible()
    page.get_by_role("button", name="Discard").click()
    expect(page.locator("#rec-status")).to_have_text("Discarded.")
    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_timeout(900)  # about as long as "Main menu." takes to say
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.locator("#rec-status")).to_contain_text("Listen, then keep it")
    screenshot(page, "09-prompt-recorded")
    page.get_by_role("button", name="Keep it").click()
    expect(page.locator(".flash.info")).to_contain_text("your recording waits as a candidate")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    expect(page.locator("#history tbody tr.current")).to_contain_text("first.wav")
    make_live(page)
    expect(page.locator("#prompt-source")).to_have_text("recording")
    expect(page.locator("#history tbody tr.current")).to_contain_text("browser-recording.webm")

    # The simulator plays it where the main menu begins.
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    page.get_by_role("button", name="Press 1").click()  # English
    expect(page.locator(".turn")).to_have_count(2)
    page.get_by_role("button", name="Stay silent").click()
    expect(page.locator("#sim-status")).to_contain_text("At main_menu")
    played = page.locator(".turn").last.locator(".play")
    expect(played).to_have_count(1)
    expect(played).to_contain_text("/audio/")
    # Heard in order: the recorded "Main menu." first, then the spoken options.
    expect(page.locator(".turn").last.locator(".heard > li").first).to_have_class("play")

    page.goto(PAGE)
    page.get_by_role("button", name="Roll back to the previous audio").click()
    expect(page.locator(".flash.info")).to_contain_text("the previous audio waits as a candidate")
    expect(page.locator("#history tbody tr.current")).to_contain_text("browser-recording.webm")
    make_live(page)
    expect(page.locator("#history tbody tr.current")).to_contain_text("first.wav")
    expect(page.get_by_role("button", name="Roll back to the previous audio")).to_have_count(0)
    screenshot(page, "10-prompt-rolled-back")
    assert page.errors == []
