"""Sign-in throttling: attempts counted in a moving window (limits' storage: memory or redis)."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LoginLimiter:
    """Count sign-in attempts per address in a moving window (limits' storage: memory or redis)."""

    def __init__(self, rule: str, storage_uri: str) -> None:
        self.rule = parse(rule)
        self.window = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, who: str) -> bool:
        """Count one attempt; return False once the address has used up its allowance."""
        return bool(self.window.hit(self.rule, "admin-login", who))
