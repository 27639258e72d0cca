"""When an order the CA keeps processing is looked at again (the awaiting_ca state)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from acmevault.app.awaiting import format_wait, recheck_delay


@pytest.mark.parametrize(
    ("retry_after", "waited", "expected"),
    [
        (20, timedelta(0), 20),  # the CA's Retry-After, honoured
        (0, timedelta(0), 1),  # never hammered: at least a second
        (3600, timedelta(0), 900),  # capped at SQS's longest delay: an approval is seen within 15 minutes
        (None, timedelta(0), 30),  # no Retry-After: a quarter of the wait so far, from 30 s ...
        (None, timedelta(minutes=20), 300),
        (None, timedelta(days=2), 900),  # ... to 15 minutes
    ],
)
def test_the_next_check_honours_retry_after_within_bounds(retry_after, waited, expected):
    assert recheck_delay(retry_after, waited) == expected


@pytest.mark.parametrize(
    ("seconds", "shown"), [(45, "45s"), (720, "12m"), (3 * 3600 + 300, "3h05m"), (2 * 86400 + 4 * 3600, "2d04h")]
)
def test_a_wait_is_shown_to_people_in_its_largest_units(seconds, shown):
    assert format_wait(seconds) == shown
