"""The typed services of a running app, and the one accessor for them.

`create_app` builds one `Services` and keeps it in `app.extensions["ivr"]`; every other module
reaches it through `services()`, typed, never through `app.extensions` itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .pauses import beside_calls

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


class Database:
    """The app's database, opened on first use.

    A line worker touches it only when its journey writer has a batch to store, so it starts
    without loading SQLAlchemy (about 90 ms of every worker's start); the console and the
    commands open it when they first read or write.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """Return the engine, made the first time it is asked for."""
        with self._lock:
            if self._engine is None:
                with beside_calls():  # SQLAlchemy's many objects, made without pausing the calls
                    from . import db  # deferred on purpose: see the class's docstring

                    self._engine = db.make_engine(self.url)
            return self._engine


@dataclass
class Services:
    """What the blueprints and commands share: settings, the live flow, audio, stores."""

    settings: Settings
    live: LiveFlow
    audio: AudioLibrary
    database: Database
    validator: RequestValidator | None
    journeys: JourneyStore | None
    retries: RecentTokens
    login_limiter: LoginLimiter | None = None  # built with the console (none in the line's own workers)
    admin_tables: bool = field(default=False)  # the accounts table is known to exist

    @property
    def engine(self) -> Engine:
        """Return the database's engine (made on first use)."""
        return self.database.engine


def attach(app: Flask, built: Services) -> None:
    """Keep an app's services where `services()` finds them."""
    app.extensions[KEY] = built


def services(app: Flask | None = None) -> Services:
    """Return the services of an app (the current one by default)."""
    found = (app or current_app).extensions[KEY]
    assert isinstance(found, Services), "create_app() builds the services"
    return found
