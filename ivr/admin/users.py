"""Console accounts: a table on the shared metadata, and hashed passwords."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..db import metadata

ROLES = ("admin", "staff")
NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 12
MIN_STRENGTH = 3  # zxcvbn's score, 0 to 4: 3 resists an offline attack on a slow hash

users = Table(
    "admin_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Bumped to end every session of the account at once: sign-out, a new password.
    Column("session_generation", Integer),
)


@functools.cache
def _dummy_hash() -> str:
    """Return a hash checked when a name is unknown, so a wrong name takes as long as a wrong password.

    Made on first use, not at import: it costs a tenth of a second that a worker's start need not pay.
    """
    return generate_password_hash("not a password of anyone")


class UserError(ValueError):
    """A name, role or password that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class User:
    """A signed-in console user, as Flask-Login needs one."""

    id: int
    name: str
    role: str
    password_hash: str
    generation: int = 0

    is_authenticated = True
    is_active = True
    is_anonymous = False

    @property
    def session_token(self) -> str:
        """Return a token that changes when the password changes or the sessions are ended."""
        return hashlib.sha256(f"{self.generation}:{self.password_hash}".encode()).hexdigest()[:16]

    def get_id(self) -> str:
        """Return what the session remembers: the id and the password's token."""
        return f"{self.id}.{self.session_token}"

    @property
    def is_admin(self) -> bool:
        """Tell whether the user may do everything."""
        return self.role == "admin"


def _row_user(row) -> User:  # type: ignore[no-untyped-def]
    return User(row.id, row.name, row.role, row.password_hash, int(row.session_generation or 0))


def check_new(name: str, role: str, password: str) -> None:
    """Raise UserError unless the name, role and password are acceptable."""
    if not NAME.match(name):
        raise UserError("a name is 2 to 64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError(f"the role must be one of: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    # Imported here: its word lists cost the line's start-up 15 ms, for a page staff rarely use.
    from zxcvbn import zxcvbn

    judged = zxcvbn(
        password[:200], user_inputs=[name, "derbyshire", "victim", "services", "trafficking", "refuge"]
    )
    if judged["score"] < MIN_STRENGTH:
        feedback = judged.get("feedback") or {}
        why = feedback.get("warning") or "it is too easy to guess"
        hint = " ".join(feedback.get("suggestions") or [])
        raise UserError(f"the password is too weak: {why.rstrip('.')}. {hint}".strip())


def add(engine: Engine, name: str, role: str, password: str) -> User:
    """Create an account; raise UserError if the name is taken or anything is unacceptable."""
    check_new(name, role, password)
    values = {
        "name": name,
        "role": role,
        "password_hash": generate_password_hash(password),
        "created_at": datetime.now(UTC),
    }
    try:
        with engine.begin() as connection:
            connection.execute(insert(users).values(**values))
    except IntegrityError as exc:
        raise UserError(f"there is already a user called {name!r}") from exc
    found = by_name(engine, name)
    assert found is not None
    return found


def set_password(engine: Engine, name: str, password: str) -> None:
    """Replace a user's password (which signs them out everywhere)."""
    user = by_name(engine, name)
    if user is None:
        raise UserError(f"there is no user called {name!r}")
    check_new(name, user.role, password)
    with engine.begin() as connection:
        connection.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(password_hash=generate_password_hash(password), session_generation=user.generation + 1)
        )


def end_sessions(engine: Engine, name: str) -> None:
    """End every session of an account at once (every browser it is signed in on)."""
    with engine.begin() as connection:
        connection.execute(
            update(users)
            .where(users.c.name == name)
            .values(session_generation=func.coalesce(users.c.session_generation, 0) + 1)
        )


def remove(engine: Engine, name: str) -> bool:
    """Delete an account; return whether there was one."""
    with engine.begin() as connection:
        return connection.execute(delete(users).where(users.c.name == name)).rowcount > 0


def by_name(engine: Engine, name: str) -> User | None:
    """Return the user with this name, if any."""
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.name == name)).first()
    return _row_user(row) if row else None


def by_session_id(engine: Engine, session_id: str) -> User | None:
    """Return the user a session names, unless the password changed since it signed in."""
    ident, _, token = session_id.partition(".")
    if not ident.isdigit():
        return None
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.id == int(ident))).first()
    user = _row_user(row) if row else None
    return user if user is not None and user.session_token == token else None


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """Return the user if the name and password match, else None (in about the same time)."""
    user = by_name(engine, name) if NAME.match(name) else None
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def all_users(engine: Engine) -> list[User]:
    """Return every account, by name."""
    with engine.connect() as connection:
        return [_row_user(r) for r in connection.execute(select(users).order_by(users.c.name))]
