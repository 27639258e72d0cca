"""Secrets Manager → one rotation step of a directory secret (createSecret, setSecret, testSecret, finishSecret);
EventBridge "Certificate Renewed" → revoke the certificate it replaced, when a rotation asked for that."""

from typing import Any

from acmevault.app.rotation import revoke_replaced, run_step
from acmevault.composition.services import rotation
from acmevault.entrypoints.runtime import lambda_logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()


# log_event=False: a rotation event carries no secret, but nothing here needs it in the logs either.
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Step" in event:
        run_step(event.get("SecretId", ""), event.get("ClientRequestToken", ""), event["Step"], rotation())
        return {"step": event["Step"], "done": True}
    return {"revoked": revoke_replaced(str((event.get("detail") or {}).get("certificate", "")), rotation())}
