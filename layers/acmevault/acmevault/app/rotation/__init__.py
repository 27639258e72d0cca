"""Rotate a directory's credential, or mark it lost: `acmevault directory rotate|revoke`, POST
/directories/{name}/rotate|revoke, and the Secrets Manager rotation function (functions/rotate).

Two rotations, one protocol: Secrets Manager's four steps (``protocol.py``), so a scheduled rotation
(Secrets Manager calling functions/rotate) and one a person asks for (``runner.py``) run the same code.

    key rollover   the current set with a new account key; the CA changes the account's key
    replacement    a new URL, KID and HMAC (from the operator, or made by CertCentral) with a new
                   account key, registered at its directory before it is staged (``credential.py``);
                   once current, the old account's certificates are queued for re-issue and the old
                   account deactivated (``replacement.py``)

Each step is idempotent per token and notes its progress on the directory's record
(``Rotation.done``), so a rotation killed anywhere ends consistent when run again. A rotation that
fails before its new set becomes current leaves AWSCURRENT — and the CA's view of it — untouched.

Marking a directory lost (``lost.py``) stops issuance from it at once, deactivates its account and
tells people. With ``revoke_previous``, a replacement revokes the old account's certificates, each only
once its replacement is in ACM and S3 (``superseded.py``). The events and the alert: ``notices.py``.

The names below are the use cases; import them from here.
"""

from acmevault.app.rotation.lost import mark_lost
from acmevault.app.rotation.protocol import run_step
from acmevault.app.rotation.runner import replace_credential, rotate_account_key
from acmevault.app.rotation.services import NewCredential, RotationServices
from acmevault.app.rotation.superseded import complete_revocations, revoke_replaced

__all__ = [
    "NewCredential",
    "RotationServices",
    "complete_revocations",
    "mark_lost",
    "replace_credential",
    "revoke_replaced",
    "rotate_account_key",
    "run_step",
]
