"""The HTTP API's hostile-request corpus (tests/e2e/test_api_bad_input.py), replayed while load and faults run.

Each request must get the status, field and message the corpus expects, and the table, the secrets
and S3 must be as they were, leaving aside what the load itself changes (its names carry its token).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

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
        """The table, the secrets and S3 (every page: by now they hold thousands of versions), leaving out
        what the load changes (its token is in its names)."""
        token, stack = self.load_token, self.stack
        ddb, sm, s3 = stack.aws("dynamodb"), stack.aws("secretsmanager"), stack.aws("s3")
        pages = ddb.get_paginator("scan").paginate(TableName=stack.env["ACMEVAULT_TABLE"], ConsistentRead=True)
        items = sorted(repr(i) for page in pages for i in page["Items"])
        secrets = {
            secret["Name"]: sorted(secret.get("SecretVersionsToStages", {}))
            for page in sm.get_paginator("list_secrets").paginate()
            for secret in page["SecretList"]
        }
        versions = s3.get_paginator("list_object_versions").paginate(Bucket=stack.env["ACMEVAULT_BUCKET"])
        objects = sorted((v["Key"], v["VersionId"]) for page in versions for v in page.get("Versions", []))
        return {
            "items": [i for i in items if token not in i],
            "secrets": {k: v for k, v in secrets.items() if token not in k},
            "s3": [o for o in objects if token not in o[0]],
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
        after = self._state()
        for part in before:
            if after[part] != before[part]:
                changed = _changed(before[part], after[part])
                self.failures.append(f"the corpus changed {part}: {changed}")


def _changed(before: Any, after: Any) -> list[str]:
    """What differs, by key: table items by pk and sk, secrets by name, S3 objects by key (never a value)."""
    if isinstance(before, dict):
        return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    gone, new = set(map(str, before)) - set(map(str, after)), set(map(str, after)) - set(map(str, before))
    return sorted(f"{'-' if item in gone else '+'}{_key(item)}" for item in gone | new)


def _key(item: str) -> str:
    """An item's pk and sk from its repr (the rest may be long), or the S3 key."""
    found = re.findall(r"'(pk|sk)': \{'S': '([^']*)'\}", item)
    return " ".join(f"{k}={v}" for k, v in found) or item[:120]
