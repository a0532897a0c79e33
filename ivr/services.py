"""The typed services of a running app, and the one accessor for them.

`create_app` builds one `Services` and keeps it in `app.extensions["ivr"]`; every other module
reaches it through `services()`, typed, never through `app.extensions` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from twilio.request_validator import RequestValidator

    from .admin.throttle import LoginLimiter
    from .audio.library import AudioLibrary
    from .journeys.store import JourneyStore
    from .line.live import LiveFlow
    from .line.retries import RecentTokens
    from .settings import Settings

KEY = "ivr"


@dataclass
class Services:
    """What the blueprints and commands share: settings, the live flow, audio, stores."""

    settings: Settings
    live: LiveFlow
    audio: AudioLibrary
    engine: Engine
    validator: RequestValidator | None
    journeys: JourneyStore | None
    retries: RecentTokens
    login_limiter: LoginLimiter | None = None  # built with the console (none in the line's own workers)
    admin_tables: bool = field(default=False)  # the accounts table is known to exist


def attach(app: Flask, built: Services) -> None:
    """Keep an app's services where `services()` finds them."""
    app.extensions[KEY] = built


def services(app: Flask | None = None) -> Services:
    """Return the services of an app (the current one by default)."""
    found = (app or current_app).extensions[KEY]
    assert isinstance(found, Services), "create_app() builds the services"
    return found
