"""Webhooks Twilio retries: the same idempotency token means the same request, counted once."""

from __future__ import annotations

import threading
from collections import OrderedDict

# Twilio repeats this header, unchanged, when it retries a webhook that timed out.
RETRY_TOKEN_HEADER = "I-Twilio-Idempotency-Token"


class RecentTokens:
    """The idempotency tokens of recent webhooks: Twilio sends the same one when it retries."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, token: str) -> bool:
        """Tell whether a token is new, and remember it."""
        with self._lock:
            if token in self._seen:
                return False
            self._seen[token] = None
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True
