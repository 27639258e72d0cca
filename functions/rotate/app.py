"""Secrets Manager → one rotation step of a directory secret (createSecret, setSecret, testSecret, finishSecret);
EventBridge "Certificate Renewed" → revoke the certificate it replaced, when a rotation asked for that."""

from typing import Any

from acmevault.app.rotation import revoke_replaced, run_step
from acmevault.composition.services import rotation
from acmevault.domain.errors import ValidationError
from acmevault.entrypoints.runtime import lambda_logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()


# log_event=False: a rotation event carries no secret, but nothing here needs it in the logs either.
# The event is read as Powertools' SecretsManagerEvent and EventBridgeEvent read it (event["SecretId"], .get): their
# data classes would import every event source Powertools knows, ~15 ms of this function's init (issue 14).
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A Secrets Manager rotation step (an event with ``Step``), or a "Certificate Renewed" event."""
    if "Step" in event:
        try:
            secret_id, token = event["SecretId"], event["ClientRequestToken"]
        except KeyError as missing:
            raise ValidationError(str(missing.args[0]), "is required") from None
        run_step(secret_id, token, event["Step"], rotation())
        return {"step": event["Step"], "done": True}
    certificate = event["detail"].get("certificate", "") if event.get("detail") else ""
    return {"revoked": revoke_replaced(str(certificate), rotation())}
