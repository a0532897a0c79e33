"""Sign-in throttling: attempts counted in a moving window (limits' storage: memory or redis)."""

from __future__ import annotations

from limits import parse, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LoginLimiter:
    """Count sign-in attempts per address in a moving window (limits' storage: memory or redis)."""

    def __init__(self, rule: str, storage_uri: str, account_rule: str = "5 per minute; 30 per day") -> None:
        self.rule = parse(rule)
        self.account_rules = parse_many(account_rule)
        self.window = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, who: str) -> bool:
        """Count one attempt; return False once the address has used up its allowance."""
        return bool(self.window.hit(self.rule, "admin-login", who))

    def account_blocked(self, name: str) -> bool:
        """Tell whether an account has had too many failed sign-ins, from whatever addresses."""
        key = name.strip().casefold()[:64]
        return not all(self.window.test(rule, "admin-account", key) for rule in self.account_rules)

    def failed(self, name: str) -> None:
        """Count a failed sign-in against the account tried."""
        key = name.strip().casefold()[:64]
        for rule in self.account_rules:
            self.window.hit(rule, "admin-account", key)
