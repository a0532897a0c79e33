"""The shared database: schema creation that several workers may run at the same moment."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import inspect

from ivr import db
from ivr.admin import users  # noqa: F401 - and so do the console's accounts
from ivr.journeys import store  # noqa: F401 - the journey store declares its tables on db.metadata


def test_workers_creating_the_schema_together_all_succeed(tmp_path: Path) -> None:
    """gunicorn's workers start together on a fresh database: none may fail creating a table."""
    for trial in range(5):
        url = f"sqlite:///{tmp_path / f'race{trial}.db'}"
        engines = [db.make_engine(url) for _ in range(6)]
        barrier = threading.Barrier(len(engines))
        errors: list[BaseException] = []

        def create(engine, barrier=barrier, errors=errors) -> None:  # type: ignore[no-untyped-def]
            barrier.wait()
            try:
                db.upgrade(engine)
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert set(db.metadata.tables) <= set(inspect(engines[0]).get_table_names())
        for engine in engines:
            engine.dispose()
