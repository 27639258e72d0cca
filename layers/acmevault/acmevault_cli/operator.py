"""What the verbs that act on acmevault share: the services from the composition root, who the operator is
(for the audit history), their permit on a certificate, and the EAB HMAC key, read from stdin or a hidden
prompt (never from argv).
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

from acmevault.adapters.aws.clients import client, translated
from acmevault.app.authorization import Caller, Permit
from acmevault.composition import services as composition
from acmevault.domain.errors import AcmeVaultError, ValidationError

if TYPE_CHECKING:  # annotations only: rotation's modules are loaded by the verbs that rotate
    from acmevault.app.rotation import RotationServices
    from acmevault.app.services import Services


def services() -> Services:
    """Everything the use cases talk to, from the settings (or the --stack's outputs)."""
    return composition.services()


def rotation() -> RotationServices:
    """What the rotation use cases talk to, and where a directory's state and history are kept."""
    return composition.rotation()


def actor() -> str:
    """Who is asking, for the audit history: the AWS principal and the local user."""
    user = getpass.getuser()
    try:
        with translated("asking AWS who the caller is"):
            return f"{client('sts').get_caller_identity()['Arn']} (cli, {user})"
    except AcmeVaultError:
        return f"cli, {user}"


def permit(name: str, directory: str, route: str) -> Permit:
    """The operator's permit on a certificate: the CLI is an admin; recorded in its history once the change is made."""
    return services().gate.may_use_certificate(Caller.operator(actor()), route, name, directory)


def read_hmac() -> str:
    """The EAB HMAC key, from a hidden prompt on a terminal or the first line of stdin otherwise."""
    value = getpass.getpass("EAB HMAC key (input hidden): ") if sys.stdin.isatty() else sys.stdin.readline()
    value = value.strip()
    if not value:
        raise ValidationError("eab_hmac_key", "nothing was given on stdin or at the prompt")
    return value
