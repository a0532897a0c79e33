"""Browser helpers: screenshots for reviewers, and signing in through the form."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.admin import PASSWORDS

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot for reviewers under artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, name: str) -> None:
    """Sign in through the form."""
    page.goto("/admin/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
