"""What the routes are given rather than fetch: the providers of Powertools' ``Depends``.

A route names what it needs in its signature, and Powertools calls the provider before the route runs
(once per request, however many routes and providers ask for it)::

    ServicesDep = Annotated[Services, Depends(services)]

    @router.get("/directories")
    def list_directories(services: ServicesDep) -> dict[str, Any]: ...

Every provider hands out what the composition root (acmevault.composition.services) built once per
container; this module is the only part of the HTTP API that reaches it. A test puts its own in place on
the resolver, keyed by the provider itself::

    app.dependency_overrides[dependencies.issue_requests] = lambda: RecordingQueue()
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from acmevault.app.rotation import RotationServices
from acmevault.app.services import Services
from acmevault.composition import services as composition
from acmevault.composition.config import settings
from acmevault.entrypoints.http.access import Access
from acmevault.entrypoints.http.idempotency import RunOnce
from acmevault.ports.certificates import IssueRequests


def services() -> Services:
    """Everything the use cases talk to."""
    return composition.services()


def rotation() -> RotationServices:
    """What the rotation use cases talk to, and where a directory's state, rotation and history are kept."""
    return composition.rotation()


def issue_requests() -> IssueRequests:
    """The issue queue: where a renewal asked for now goes to the issue worker."""
    return composition.queue()


def run_once() -> RunOnce:
    """POST and PUT at most once per request, their answers kept in the certificate table."""
    return RunOnce(composition.idempotency_store())


ServicesDep = Annotated[Services, Depends(services)]
RotationDep = Annotated[RotationServices, Depends(rotation)]
IssueRequestsDep = Annotated[IssueRequests, Depends(issue_requests)]
RunOnceDep = Annotated[RunOnce, Depends(run_once)]


def access(request: Request, services: ServicesDep) -> Access:
    """The authorization questions of this request, answered by the services' gate."""
    event = request.resolved_event
    assert isinstance(event, APIGatewayProxyEvent)  # the REST resolver's event
    return Access(services.gate, services.certificates, settings().admin_principals, event)


AccessDep = Annotated[Access, Depends(access)]
