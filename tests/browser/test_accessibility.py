"""The console for keyboard and screen-reader users: axe-core on every page, and every task by keyboard alone.

axe-core (WCAG 2.0-2.2, A and AA) must find nothing serious or critical on any page; each page's
screenshot is kept under artifacts/screenshots/. The keyboard tests use `page.keyboard` only: Tab to a
control, then Enter, Space or a key, as someone who cannot use a mouse does.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import expect

from ivr.services import services
from tests.helpers.admin import PASSWORDS
from tests.helpers.audio import make_voice
from tests.helpers.browser import screenshot, sign_in
from tests.helpers.console import (
    PROMPT,
    PROMPT_PAGE,
    axe_problems,
    contrast,
    focused,
    prompt_with_history,
    tab_to,
)

# name, who signs in (None: nobody), the page, and whether a prompt has a past and a candidate first
PAGES = [
    ("sign-in", None, "/admin/login", False),
    ("home", "ada", "/admin/", True),
    ("flow-review", "ada", "/admin/flow", False),
    ("prompt-library", "sam", "/admin/prompts", True),
    ("prompt-library-filtered", "sam", "/admin/prompts?q=menu&waiting=1", True),
    ("prompt-candidate-history", "ada", PROMPT_PAGE, True),
    ("simulator", "sam", "/admin/simulator", False),
    ("figures", "ada", "/admin/figures", False),
    ("audit", "ada", "/admin/audit", False),
    ("error-404", "sam", "/admin/no-such-page", False),
    ("error-403", "sam", "/admin/flow", False),
]


@pytest.mark.parametrize("name,user,path,history", PAGES, ids=[p[0] for p in PAGES])
def test_axe_finds_nothing_serious(page, app, tmp_path, name, user, path, history):
    if history:
        prompt_with_history(app, tmp_path)
    if user:
        sign_in(page, user)
    page.goto(path)
    expect(page.locator("h1")).to_be_visible()
    screenshot(page, f"a11y-{name}")
    assert axe_problems(page) == []
    assert page.errors == [] or name.startswith("error")  # the browser logs a 4xx page as an error


def test_axe_on_a_simulated_call_with_a_transfer(page):
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    page.get_by_role("button", name="Call the line").click()
    page.get_by_role("button", name="Press 0").click()
    expect(page.locator("#sim-status")).to_contain_text("Transferring")
    page.locator(".turn").last.locator("summary").click()
    screenshot(page, "a11y-simulator-call")
    assert axe_problems(page) == []


def test_axe_on_the_error_pages_of_a_form_and_of_a_file_too_large(page, app, tmp_path):
    sign_in(page, "sam")
    page.goto(PROMPT_PAGE)
    page.locator("#upload-form input[name=csrf_token]").evaluate("input => { input.value = 'stale'; }")
    page.get_by_label("A recording").set_input_files(str(make_voice(tmp_path / "take.wav", seconds=0.5)))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("h1")).to_have_text("This form could not be checked")
    screenshot(page, "a11y-error-400-form")
    assert axe_problems(page) == []
    page.get_by_role("link", name="Go back to the page you came from").click()
    expect(page.locator("h1")).to_contain_text(PROMPT)

    found = services(app)
    found.settings = replace(found.settings, admin_upload_bytes=50_000)
    page.reload()
    page.get_by_label("A recording").set_input_files(str(make_voice(tmp_path / "long.wav", seconds=1.0)))
    expect(page.locator("#audio-error")).to_contain_text("the console takes at most")
    page.locator("#upload-form").evaluate("form => form.submit()")  # past the browser's own check
    expect(page.locator("h1")).to_have_text("That file is too large")
    expect(page.locator("#error-words")).to_contain_text("at most 0.0477 MB")
    screenshot(page, "a11y-error-413")
    assert axe_problems(page) == []


def test_axe_on_the_library_at_640_px(page, app, tmp_path):
    prompt_with_history(app, tmp_path)
    page.set_viewport_size({"width": 640, "height": 900})
    sign_in(page, "sam")
    page.goto("/admin/prompts")
    screenshot(page, "a11y-prompt-library-640")
    assert axe_problems(page) == []


# -- the four known problems -------------------------------------------------------------------------


def test_the_flow_diagram_scrolls_by_keyboard_at_1366_px(page):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, "ada")
    page.goto("/admin/flow")
    region = page.get_by_role("region", name="Call flow diagram, scrollable")
    expect(region).to_have_attribute("tabindex", "0")
    box = region.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366  # the box fits; the diagram scrolls inside it
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    tab_to(page, "#diagram")
    screenshot(page, "a11y-flow-diagram-1366")
    end = region.evaluate("d => d.scrollWidth - d.clientWidth")
    assert end > 0
    for _ in range(100):  # the arrow keys scroll the focused region, as far as its right edge
        if region.evaluate("d => d.scrollLeft") >= end - 1:
            break
        page.keyboard.press("ArrowRight")
    assert region.evaluate("d => d.scrollLeft") >= end - 1
    rightmost = region.evaluate(
        "d => Math.max(...Array.from(d.querySelectorAll('g.node'), r => r.getBoundingClientRect().right))"
    )
    assert rightmost <= box["x"] + box["width"]  # the right half is in view now


# The focus ring of the element that has the focus: its style, width and colour.
RING = """() => {
  const style = getComputedStyle(document.activeElement);
  return [style.outlineStyle, style.outlineWidth, style.outlineColor];
}"""


def test_the_focus_ring_stands_out_3_to_1_on_the_page_and_in_the_header(page):
    sign_in(page, "sam")
    page.goto("/admin/prompts")
    header = page.locator("header.top").evaluate("h => getComputedStyle(h).backgroundColor")
    white = "rgb(255, 255, 255)"
    for selector, background in (("nav a", header), ("main a", white), ("main button", white)):
        tab_to(page, selector)
        style, width, color = page.evaluate(RING)
        assert style == "solid" and float(width.removesuffix("px")) >= 3, (selector, style, width)
        assert contrast(color, background) >= 3, (selector, color, background)


def test_the_prompt_library_reads_without_sideways_scrolling_at_640_px(page, app, tmp_path):
    prompt_with_history(app, tmp_path)
    page.set_viewport_size({"width": 640, "height": 900})
    sign_in(page, "sam")
    page.goto("/admin/prompts")
    assert page.evaluate("document.documentElement.scrollWidth") <= 640
    row = page.locator(f"#row-{PROMPT}")
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 640
    label = row.locator("td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Text: "'  # each stacked cell says what it is
    page.goto(PROMPT_PAGE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 640  # the history table too


# Records what is put into a live region after the page has loaded: that is what screen readers announce.
ANNOUNCED = """
window.__announced = [];
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => {
    if (n.nodeType === 1 && n.closest("[role=status], [role=alert]")) {
      window.__announced.push(n.textContent.trim());
    }
  }))).observe(document.body, { subtree: true, childList: true });
});
"""


def announced(page) -> list[str]:
    """Return what was put into a live region after the page loaded (waiting up to 3 s for something).

    Polled from here: Playwright's wait_for_function would evaluate a string, which the CSP forbids.
    """
    for _ in range(30):
        said = page.evaluate("() => window.__announced || []")
        if said:
            return list(said)
        page.wait_for_timeout(100)
    return []


# -- keyboard only -----------------------------------------------------------------------------------


def test_sign_in_by_keyboard(page):
    page.add_init_script(ANNOUNCED)
    page.goto("/admin/login")
    tab_to(page, "#name")
    page.keyboard.type("sam")
    page.keyboard.press("Tab")
    assert focused(page, "#password")
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    expect(page.locator("#flash-alert")).to_contain_text("do not match")
    assert any("do not match" in said for said in announced(page))
    tab_to(page, "#name")
    page.keyboard.press("Control+A")
    page.keyboard.type("sam")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS["sam"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/")
    page.keyboard.press("Tab")
    assert focused(page, "a.skip")  # the first stop: past the navigation, straight to the page
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_upload_through_the_file_input_by_keyboard(page, tmp_path):
    take = make_voice(tmp_path / "studio take.wav", seconds=1.0, lead=0.3, tail=0.3)
    sign_in(page, "sam")
    page.add_init_script(ANNOUNCED)
    page.goto(PROMPT_PAGE)
    tab_to(page, "#audio")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(take))
    tab_to(page, "#upload-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#flash-status")).to_contain_text("your recording waits as a candidate")
    assert any("waits as a candidate" in said for said in announced(page))  # announced after the redirect
    expect(page.locator("#history tbody tr").first).to_contain_text("(waiting)")
    screenshot(page, "a11y-keyboard-upload")


def test_record_with_the_microphone_by_keyboard(page):
    sign_in(page, "sam")
    page.add_init_script(ANNOUNCED)
    page.goto(PROMPT_PAGE)
    tab_to(page, "#rec-start")
    page.keyboard.press("Enter")
    expect(page.locator("#rec-status")).to_contain_text("Recording")
    assert focused(page, "#rec-stop")  # Record is disabled now: the focus moved on to Stop
    page.wait_for_timeout(2000)
    page.keyboard.press("Enter")
    expect(page.locator("#rec-status")).to_contain_text("Listen, then keep it")
    assert focused(page, "#rec-preview")
    tab_to(page, "#rec-discard")
    page.keyboard.press("Enter")
    expect(page.locator("#rec-status")).to_have_text("Discarded.")
    assert focused(page, "#rec-start")
    page.keyboard.press("Enter")
    page.wait_for_timeout(2000)
    page.keyboard.press("Enter")
    expect(page.locator("#rec-status")).to_contain_text("Listen, then keep it")
    tab_to(page, "#rec-keep")
    page.keyboard.press("Enter")
    expect(page.locator("#flash-status")).to_contain_text("your recording waits as a candidate")
    assert any("waits as a candidate" in said for said in announced(page))  # after the reload too
    expect(page.locator("#history tbody tr").first).to_contain_text("browser-recording.webm")


def test_roll_back_then_make_live_by_keyboard(page, app, tmp_path):
    prompt_with_history(app, tmp_path, candidate=False)
    sign_in(page, "sam")
    page.goto(PROMPT_PAGE)
    expect(page.locator("#history tbody tr.current")).to_contain_text("studio take 2.wav")
    tab_to(page, "#rollback-btn")
    page.keyboard.press("Enter")
    expect(page.locator("#flash-status")).to_contain_text("the previous audio waits as a candidate")
    tab_to(page, "#publish-btn")
    page.keyboard.press("Enter")  # not ticked: the browser asks for the box first, nothing is sent
    assert focused(page, "#confirm")
    expect(page.locator("#flash-status")).to_contain_text("the previous audio waits")
    page.keyboard.press("Space")
    tab_to(page, "#publish-btn")
    page.keyboard.press("Enter")
    expect(page.locator("#flash-status")).to_contain_text("is live: callers hear it from the next call")
    expect(page.locator("#history tbody tr.current")).to_contain_text("studio take 1.wav")
    screenshot(page, "a11y-keyboard-make-live")
    assert page.errors == []


def test_the_simulator_by_keyboard(page):
    sign_in(page, "sam")
    page.goto("/admin/simulator")
    status = page.locator("#sim-status")
    tab_to(page, "#call-btn")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("At greeting")
    assert focused(page, '.key[data-key="1"]')  # "Call the line" is disabled now: the keypad has the focus
    page.keyboard.press("1")  # English
    page.keyboard.press("2")  # get help (a key during a message is meant for the menu after it)
    expect(status).to_contain_text("At help_menu")
    tab_to(page, "#silence-btn")
    page.keyboard.press("Enter")
    expect(page.locator(".turn").last).to_contain_text("I did not hear a key")
    page.keyboard.press("0")
    expect(status).to_contain_text("Transferring")
    assert focused(page, ".outcome")  # the keypad is off during a transfer: the outcomes have the focus
    tab_to(page, '.outcome[data-outcome="busy"]')
    page.keyboard.press("Enter")
    expect(status).to_contain_text("At main_menu")
    tab_to(page, "#hangup-btn", backwards=True)
    page.keyboard.press("Enter")
    expect(status).to_have_text("You hung up.")
    assert focused(page, "#call-btn")
    assert page.errors == []
