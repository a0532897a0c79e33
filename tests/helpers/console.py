"""Helpers for the console's page tests: axe-core's verdict, keyboard moves, contrast, a prompt's past."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.audio.publishing import publish
from ivr.services import services
from tests.helpers.audio import make_voice
from tests.helpers.parts import missing

# WCAG 2.0, 2.1 and 2.2, levels A and AA: the tags axe-core gives its rules.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
BLOCKING = ("serious", "critical")
RGB = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)")
PROMPT = "main_menu_intro"
PROMPT_PAGE = f"/admin/prompts/{PROMPT}/en-GB"


def axe_problems(page) -> list[str]:
    """Run axe-core on the page as it is now; return its serious and critical WCAG A/AA violations."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        missing("axe-playwright-python is not installed: pip install -e '.[test]'")
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    found = Axe().run(page, options=options).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: " + "; ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in found
        if v["impact"] in BLOCKING
    ]


def focused(page, selector: str) -> bool:
    """Tell whether the element with the keyboard focus matches a CSS selector."""
    script = "s => Boolean(document.activeElement && document.activeElement.matches(s))"
    return bool(page.evaluate(script, selector))


def tab_to(page, selector: str, limit: int = 120, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the element matching selector has the focus; fail if it never does."""
    for _ in range(limit):
        if focused(page, selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{selector} cannot be reached with the Tab key ({limit} presses)")


def luminance(css: str) -> float:
    """Return the relative luminance (WCAG) of a CSS rgb() colour."""
    match = RGB.match(css)
    assert match, css
    channels = []
    for value in match.groups():
        c = float(value) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(first: str, second: str) -> float:
    """Return the WCAG contrast ratio of two CSS rgb() colours."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def prompt_with_history(app, folder: Path, candidate: bool = True) -> None:
    """Give main_menu_intro two published versions by an admin and, if asked, sam's candidate waiting."""
    lib = services(app).audio
    flow = services(app).live.current().flow
    for n, seconds in enumerate((0.9, 1.1)):
        take = make_voice(folder / f"{PROMPT}-{n}.wav", seconds=seconds, lead=0.3, tail=0.3)
        lib.import_recording(flow, PROMPT, "en-GB", take, f"studio take {n + 1}.wav", by="ada", role="admin")
        publish(lib, flow, PROMPT, "en-GB", False, by="ada", role="admin")
    if candidate:
        take = make_voice(folder / f"{PROMPT}-new.wav", seconds=1.0, lead=0.3, tail=0.3)
        lib.import_recording(flow, PROMPT, "en-GB", take, "new take.wav", by="sam", role="staff")
    services(app).live.refresh()
