"""The ACM ownership tag: a stack's first import carries acmevault:stack=<stack>; a re-import carries no
tags at all (real ACM refuses them there; moto does not, so the requests themselves are checked)."""

from __future__ import annotations

import json
import time
from typing import Any

from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.endpoints import Endpoint
from acmevault.app.issuance import issue_certificate
from acmevault.composition.services import services

REGION = "us-east-1"


def test_the_first_import_carries_the_stack_tag_and_a_reimport_none(stack, cli, directory, unique):
    # GIVEN a certificate, and every ImportCertificate request acmevault's ACM client sends recorded (the
    # request as it goes on the wire, let through to moto)
    name = f"own-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    sent: list[dict[str, Any]] = []

    def record(endpoint: Endpoint, request: transport.Request, attempt: int) -> None:
        if (endpoint.service, endpoint.region, request.operation, attempt) == ("acm", REGION, "ImportCertificate", 1):
            params = json.loads(request.body)
            sent.append({k: v for k, v in params.items() if k in ("CertificateArn", "Tags")})

    transport.HOOKS.append(record)
    try:
        # WHEN it is issued, then renewed
        first = issue_certificate(name, services(), time.monotonic() + 120)
        # (read now: moto forgets a certificate's tags when it is re-imported; ACM keeps them)
        tags = stack.aws("acm").list_tags_for_certificate(CertificateArn=first.state.acm_arns[REGION])["Tags"]
        second = issue_certificate(name, services(), time.monotonic() + 120)
    finally:
        transport.HOOKS.remove(record)
    # THEN the first import is tagged with the certificate and the stack, and the re-import keeps the ARN untagged
    arn = first.state.acm_arns[REGION]
    assert second.state.acm_arns[REGION] == arn
    assert len(sent) == 2  # one import each
    assert sent[0] == {
        "Tags": [
            {"Key": "acmevault:certificate", "Value": name},
            {"Key": "acmevault:stack", "Value": stack.env["ACMEVAULT_STACK_NAME"]},
        ]
    }
    assert sent[1] == {"CertificateArn": arn}
    assert {"Key": "acmevault:stack", "Value": stack.env["ACMEVAULT_STACK_NAME"]} in tags
