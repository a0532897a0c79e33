"""The prompt library in headless Chromium: upload, record with the microphone, hear it, roll back."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import audio as audio_helpers
from tests.helpers.browser import screenshot, sign_in

PAGE = "/admin/prompts/main_menu_intro/en-GB"


def test_upload_becomes_fresh_and_a_bad_upload_is_refused(page, tmp_path):
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

    take = audio_helpers.make_voice(tmp_path / "studio take.mp3", seconds=1.5)
    page.get_by_label("A recording").set_input_files(str(take))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash.info")).to_contain_text("now plays your recording")
    expect(page.locator("#prompt-state")).to_have_text("fresh")
    expect(page.locator("#prompt-source")).to_have_text("recording")
    # The player's file is served and the browser can decode it.
    duration = page.locator("#current-audio").evaluate(
        "a => new Promise(ok => { a.onloadedmetadata = () => ok(a.duration); a.load(); })"
    )
    assert 1.0 < duration < 4.0
    screenshot(page, "08-prompt-fresh")
    page.goto("/admin/prompts?state=fresh")
    expect(page.locator("#prompts tbody tr")).to_have_count(1)
    assert page.errors == []


def test_record_in_the_browser_hear_it_in_the_simulator_then_roll_back(page, tmp_path):
    sign_in(page, "sam")
    first = audio_helpers.make_voice(tmp_path / "first.wav", seconds=1.0)
    page.goto(PAGE)
    page.get_by_label("A recording").set_input_files(str(first))
    page.get_by_role("button", name="Upload").click()
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
    page.wait_for_timeout(2500)
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.locator("#rec-status")).to_contain_text("Listen, then keep it")
    screenshot(page, "09-prompt-recorded")
    page.get_by_role("button", name="Keep it").click()
    expect(page.locator("#prompt-source")).to_have_text("recording")
    expect(page.locator("#history tbody tr")).to_have_count(2)
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
    expect(page.locator(".flash.info")).to_contain_text("back to its previous audio")
    expect(page.locator("#history tbody tr.current")).to_contain_text("first.wav")
    expect(page.get_by_role("button", name="Roll back to the previous audio")).to_have_count(0)
    screenshot(page, "10-prompt-rolled-back")
    assert page.errors == []
