"""Telling never fails the action: an event or alert that cannot go out is logged, and the caller carries on."""

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from acmevault.app.notices import Alert, Notice, alert, tell
from acmevault.domain.errors import UnavailableError


@dataclass
class Outlet:
    """Records what it was asked to send; raises ``failure`` instead when one is set."""

    failure: Exception | None = None
    sent: list[tuple[Any, ...]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self._send(detail_type, detail)

    def notify(self, subject: str, message: str) -> None:
        self._send(subject, message)

    def _send(self, *what: Any) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(what)


@dataclass
class Outlets:
    events: Outlet
    alerts: Outlet


def test_an_event_and_its_alert_go_out() -> None:
    outlets = Outlets(Outlet(), Outlet())
    assert tell(outlets, "web", Notice.CERTIFICATE_ISSUED, {"certificate": "web"}, Alert("subject", "body"))
    assert outlets.events.sent == [("Certificate Issued", {"certificate": "web"})]
    assert outlets.alerts.sent == [("subject", "body")]


@pytest.mark.parametrize("failure", [UnavailableError("EventBridge is down"), RuntimeError("a bug in an adapter")])
def test_an_event_that_cannot_go_out_is_logged_and_the_alert_still_goes(
    failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    outlets = Outlets(Outlet(failure), Outlet())
    with caplog.at_level(logging.ERROR, logger="acmevault.app.notices"):
        told = tell(outlets, "web", Notice.CERTIFICATE_RENEWAL_FAILED, {}, Alert("subject", "body"))
    assert told is False
    assert outlets.alerts.sent == [("subject", "body")]
    (record,) = caplog.records
    assert record.getMessage() == "could not tell people"
    assert (record.about, record.notice) == ("web", "Certificate Renewal Failed")  # type: ignore[attr-defined]


def test_an_alert_alone_that_cannot_go_out_returns_false() -> None:
    outlets = Outlets(Outlet(), Outlet(UnavailableError("SNS is down")))
    assert alert(outlets, "web", Alert("subject", "body")) is False
    assert outlets.events.sent == []


def test_every_detail_type_is_named_as_subscribers_match_it() -> None:
    assert all(notice.value == notice.value.title() for notice in Notice)
    assert len({notice.value for notice in Notice}) == len(Notice)
