"""Figures, not assertions on time: what the console costs next to the webhook it drives.

Run with `python -m pytest tests/test_admin_bench.py -s` to see them.
"""

from __future__ import annotations

import time

from tests.helpers.admin import csrf_token, https_client, make_users, sign_in
from tests.helpers.twilio import post_signed

ROUNDS = 60


def _per_call_ms(action, rounds: int = ROUNDS) -> float:
    action()  # warm caches (rendered TwiML, templates)
    started = time.perf_counter()
    for _ in range(rounds):
        action()
    return (time.perf_counter() - started) * 1000 / rounds


def test_simulator_step_and_pages_against_a_plain_webhook(app):
    make_users(app)
    web = https_client(app)
    sign_in(web, "ada")
    token = csrf_token(web, "/admin/simulator")
    voice = app.test_client()
    gather = "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"

    def webhook() -> None:
        assert post_signed(voice, gather, {"CallSid": "CA" + "2" * 32, "Digits": "2"}).status_code == 200

    def sim_step() -> None:
        body = {"action": "press", "key": "2", "gather": gather, "sid": "CA" + "3" * 32}
        response = web.post("/admin/api/sim", json=body, headers={"X-CSRFToken": token})
        assert response.get_json()["node"] == "help_menu"

    def flow_page() -> None:
        assert web.get("/admin/flow").status_code == 200

    def prompts_page() -> None:
        assert web.get("/admin/prompts").status_code == 200

    baseline = _per_call_ms(webhook)
    figures = {
        "simulator step (signed /voice inside)": _per_call_ms(sim_step),
        "flow review page (diagram + outline)": _per_call_ms(flow_page, 20),
        "prompt library page": _per_call_ms(prompts_page, 20),
    }
    print(f"\nbaseline: signed POST {gather}: {baseline:.2f} ms")
    for name, ms in figures.items():
        print(f"{name}: {ms:.2f} ms = {ms / baseline:.1f}x the webhook")
