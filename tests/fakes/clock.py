"""A clock that moves only when a test says so (``Services.clock``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """``now`` from 2026-03-01 UTC; ``advance(hours=1)`` moves it on."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move on by a timedelta's worth; returns the new time."""
        self.now += timedelta(**delta)
        return self.now
