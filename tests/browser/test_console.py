"""The console in a real headless Chromium: sign in, read the flow, play calls in the simulator."""

from __future__ import annotations

import re

from ivr.services import services
from tests.helpers.browser import screenshot, sign_in

expect = __import__("playwright.sync_api", fromlist=["expect"]).expect


def test_sign_in_page_and_a_wrong_password(page):
    page.goto("/admin/")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    screenshot(page, "01-sign-in")
    page.get_by_label("Name").fill("ada")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash.error")).to_contain_text("do not match")
    assert "/admin/login" in page.url


def test_admin_reads_the_flow_outline_and_diagram(page, flow):
    sign_in(page, "ada")
    screenshot(page, "02-home-admin")
    page.get_by_role("navigation").get_by_role("link", name="Flow", exact=True).click()
    expect(page.get_by_role("heading", name="Flow review")).to_be_visible()
    expect(page.locator("#flow-version")).to_have_text(flow.version)
    outline = page.locator("#outline")
    expect(outline.locator("> li")).to_have_count(len(flow.nodes))
    greeting = outline.locator("#node-greeting")
    expect(greeting).to_contain_text("If you are in danger now, hang up and dial 999.")
    page.locator("#node-main_menu").get_by_role("link", name="danger").click()
    assert page.url.endswith("#node-danger")
    diagram = page.get_by_role("img", name="Call flow diagram")
    expect(diagram).to_be_visible()
    assert diagram.locator("g.node").count() == len(flow.nodes)
    screenshot(page, "03-flow-review")
    page.set_viewport_size({"width": 2100, "height": 1100})  # the whole diagram, unscrolled
    diagram.screenshot(path=str(screenshot.__globals__["SHOTS"] / "03-flow-diagram.png"))
    assert page.errors == []


def test_staff_do_not_see_the_flow_review(page):
    sign_in(page, "sam")
    expect(page.get_by_role("link", name="Prompts")).to_be_visible()
    expect(page.get_by_role("link", name="Flow", exact=True)).to_have_count(0)
    response = page.goto("/admin/flow")
    assert response.status == 403


def _press(page, key: str, node: str) -> None:
    page.locator(f'.key[data-key="{key}"]').click()
    expect(page.locator("#sim-status")).to_contain_text(f"At {node}")


def test_simulator_plays_a_call_to_the_refuge_transfer(page):
    sign_in(page, "sam")
    page.get_by_role("navigation").get_by_role("link", name="Simulator").click()
    page.get_by_role("button", name="Call the line").click()
    expect(page.locator("#sim-status")).to_contain_text("At greeting")
    expect(page.locator(".turn").first).to_contain_text("hang up and dial 9 9 9")
    page.get_by_role("button", name="Press 1").click()  # English
    expect(page.locator(".turn")).to_have_count(2)
    page.get_by_role("button", name="Press 2").click()
    expect(page.locator("#sim-status")).to_contain_text("At help_menu")
    page.get_by_role("button", name="Press 1").click()
    expect(page.locator("#sim-status")).to_contain_text("Transferring to +448082000247")
    expect(page.locator(".turn").last.locator(".dial")).to_have_text("Transfers the call to +448082000247")
    expect(page.get_by_role("button", name="Press 1")).to_be_disabled()
    page.locator(".turn").last.locator("summary").click()
    expect(page.locator(".turn").last.locator(".twiml")).to_contain_text("<Number>+448082000247</Number>")
    screenshot(page, "04-simulator-transfer")
    page.get_by_role("button", name="answered").click()
    expect(page.locator("#sim-status")).to_have_text("The call has ended.")
    expect(page.locator(".turn").last).to_contain_text("The call ends.")
    assert page.errors == []


def test_simulator_busy_transfer_falls_back_to_the_menu(page):
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    expect(page.locator("#sim-status")).to_contain_text("At greeting")
    page.keyboard.press("0")  # the keyboard works as the keypad
    expect(page.locator("#sim-status")).to_contain_text("Transferring")
    page.get_by_role("button", name="busy").click()
    expect(page.locator("#sim-status")).to_contain_text("At main_menu")
    last = page.locator(".turn").last
    expect(last.locator("h3")).to_have_text("The transfer was busy")
    expect(last).to_contain_text("Refuge could not answer just now")
    expect(last).to_contain_text("0 8 0 8, 2 0 0 0, 2 4 7")
    page.get_by_role("button", name="Stay silent").click()
    expect(page.locator(".turn")).to_have_count(4)
    expect(page.locator(".turn").last).to_contain_text("I did not hear a key")
    screenshot(page, "05-simulator-busy-fallback")
    assert page.errors == []


def test_admin_sees_the_journeys_of_a_simulated_call(page, app):
    sign_in(page, "ada")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    page.get_by_role("button", name="Press 1").click()
    expect(page.locator(".turn")).to_have_count(2)
    page.get_by_role("button", name="Press 2").click()
    expect(page.locator("#sim-status")).to_contain_text("At help_menu")
    services(app).journeys.flush()
    page.goto("/admin/")
    page.get_by_role("navigation").get_by_role("link", name="Journeys").click()
    expect(page.locator("#calls")).to_have_text("0")  # a simulated call is left out, unless asked for
    page.get_by_label("Include calls played in the simulator").check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#calls")).to_have_text("1")
    expect(page.locator("#menus")).to_contain_text("main_menu")
    screenshot(page, "11-journeys")
    assert page.errors == []


def test_simulator_speaks_each_language_as_the_line_does(page):
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    expect(page.locator("#sim-status")).to_contain_text("At greeting")
    page.get_by_role("button", name="Press 6").click()  # Română
    last = page.locator(".turn").last
    expect(last.locator("h3")).to_have_text("You pressed 6")
    expect(last.locator('li.say[lang="ro-RO"]').first).to_be_visible()
    assert page.errors == []


def test_simulator_takes_a_spoken_answer(page):
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    page.get_by_role("button", name="Press 1").click()
    expect(page.locator(".turn")).to_have_count(2)
    page.get_by_role("button", name="Stay silent").click()
    expect(page.locator("#sim-status")).to_contain_text("At main_menu")
    expect(page.locator("#speak-hints")).to_contain_text("get help")
    page.get_by_label("Or answer aloud").fill("get help")
    page.get_by_role("button", name="Say it").click()
    expect(page.locator("#sim-status")).to_contain_text("At help_menu")
    expect(page.locator(".turn").last.locator("h3")).to_have_text("You said “get help”")
    assert page.errors == []
