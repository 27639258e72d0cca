"""The HTTP API's hostile-request corpus (tests/e2e/test_api_bad_input.py), replayed while load and faults run.

Each request must get the status, field and message the corpus expects, and the table, the secrets
and S3 must be as they were, leaving aside what the load itself changes (its names carry its token).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import snapshot
from tests.e2e.api_client import call, event, sample
from tests.e2e.test_api_bad_input import CASES, Ctx


class BadInputs:
    def __init__(self, stack: Any, load_token: str) -> None:
        self.stack = stack
        self.load_token = load_token
        self.tried = 0
        self.failures: list[str] = []
        unique = uuid.uuid4().hex[:8]
        directory, certificate = f"corpus-{unique}", f"corpus-cert-{unique}"
        body = json.loads(sample("api-put-directory.json")["body"])
        body.update(directory_url=stack.directory_url, eab_hmac_key=stack.hmac(body["eab_kid"]))
        assert call(stack, event("api-put-directory.json", name=directory, body=body)).status == 201
        spec = {"domains": [f"{certificate}.example.com"], "directory": directory}
        assert call(stack, event("api-put-certificate.json", name=certificate, body=spec)).status == 201
        self.ctx = Ctx(directory, certificate, f"fresh-{unique}")

    def _state(self) -> dict[str, Any]:
        """Everything the corpus could change; what the load changes (its token in the name) left out."""
        whole = snapshot(self.stack)
        token = self.load_token
        return {
            "items": [i for i in whole["items"] if token not in i],
            "secrets": {k: v for k, v in whole["secrets"].items() if token not in k},
            "s3": [o for o in whole["s3"] if token not in o[0]],
        }

    def replay(self) -> None:
        before = self._state()
        for case in CASES:
            self.tried += 1
            reply = call(self.stack, case.request(self.ctx))
            message = reply.body.get("message", "") if isinstance(reply.body, dict) else ""
            wrong = (
                reply.status != case.status
                or case.text not in message
                or (case.field is not None and reply.body.get("field") != case.field)
            )
            if wrong:
                self.failures.append(f"{case.label}: {reply.status} {reply.body}")
        if self._state() != before:
            self.failures.append("the corpus changed the table, a secret or S3")
