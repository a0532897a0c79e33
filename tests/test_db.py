"""The shared database: schema creation that several workers may run at the same moment."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import inspect

from ivr import db
from ivr.admin import users  # noqa: F401 - the console's accounts declare their table on db.metadata
from ivr.journeys import tables  # noqa: F401 - and so do the journey tables


def test_workers_creating_the_schema_together_all_succeed(store_url: str, tmp_path: Path) -> None:
    """gunicorn's workers start together on a fresh database: none may fail creating a table."""
    for trial in range(5):
        url = store_url if store_url.startswith("postgresql") else f"sqlite:///{tmp_path / f'race{trial}.db'}"
        engines = [db.make_engine(url) for _ in range(6)]
        barrier = threading.Barrier(len(engines))
        errors: list[BaseException] = []
        created: list[list[str]] = []

        def create(engine, barrier=barrier, errors=errors, created=created) -> None:  # type: ignore[no-untyped-def]
            barrier.wait()
            try:
                created.append(db.upgrade(engine))
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert set(db.metadata.tables) <= set(inspect(engines[0]).get_table_names())
        # One worker created the tables; the others waited for it and found nothing left to do.
        assert sorted(map(len, created)) == [0] * (len(engines) - 1) + [len(db.metadata.tables)]
        if url == store_url:
            db.metadata.drop_all(engines[0])
        for engine in engines:
            engine.dispose()
