"""AWS Certificate Manager: import, and re-import into the same ARN on renewal."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypedDict

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import client, error_code, translated
from acmevault.domain.errors import ConflictError

if TYPE_CHECKING:
    from mypy_boto3_acm.type_defs import TagTypeDef

    from acmevault.domain.keys import CertificateBundle  # cryptography: annotations only (the API's init loads none)

log = logging.getLogger(__name__)
REVOKED_TAG = "acmevault:revoked"
CERTIFICATE_TAG = "acmevault:certificate"
STACK_TAG = "acmevault:stack"  # the ownership tag: a stack's IAM policy replaces only its own certificates


class _Pems(TypedDict):
    """What every ImportCertificate call sends: the certificate, its key and its chain (PEM)."""

    Certificate: bytes
    PrivateKey: bytes
    CertificateChain: bytes


class AcmImporter:
    """Certificates in ACM (CertificateManager): imported, re-imported into the same ARN, tagged, deleted.

    First imports carry the ownership tag of ``stack``, which the stack's IAM policy requires to replace one."""

    def __init__(self, stack: str | None = None) -> None:
        self._stack = stack

    def import_certificate(self, region: str, name: str, bundle: CertificateBundle, arn: str | None) -> str:
        """Import the bundle with its full chain; with ``arn``, replace that certificate in place.

        The bundle was checked (key matches, chain complete) when it was built: ACM
        refuses a mismatch, moto does not, so we never rely on ACM to catch it.
        """
        acm = client("acm", region)
        args: _Pems = {
            "Certificate": bundle.certificate_pem.encode(),
            "PrivateKey": bundle.private_key_pem.encode(),
            "CertificateChain": bundle.chain_pem.encode(),
        }
        with translated(f"importing certificate {name!r} into ACM in {region}"):
            if arn:
                try:
                    # No Tags on re-import: ACM rejects them there.
                    return str(acm.import_certificate(CertificateArn=arn, **args)["CertificateArn"])
                except ClientError as error:
                    if error_code(error) != "ResourceNotFoundException":
                        raise
                    log.warning(
                        "ACM certificate was deleted outside acmevault; importing anew",
                        extra={"certificate": name, "region": region, "arn": arn},
                    )
            # Tags only on the first import: ACM refuses them on a re-import (CertificateArn given).
            tags: list[TagTypeDef] = [{"Key": CERTIFICATE_TAG, "Value": name}]
            if self._stack:
                tags.append({"Key": STACK_TAG, "Value": self._stack})
            return str(acm.import_certificate(Tags=tags, **args)["CertificateArn"])

    def mark_revoked(self, region: str, arn: str, reason: str) -> None:
        """Tag the ACM copy ``acmevault:revoked=<reason>`` so whoever attaches it sees it must not be used."""
        acm = client("acm", region)
        with translated(f"tagging {arn} as revoked"):
            try:
                acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": REVOKED_TAG, "Value": reason}])
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException":
                    raise
                log.warning("ACM certificate was deleted outside acmevault; nothing to tag", extra={"arn": arn})

    def clear_revoked(self, region: str, arn: str) -> None:
        """Drop the revoked tag once a new certificate has been imported into the same ARN."""
        with translated(f"clearing the revoked tag of {arn}"):
            client("acm", region).remove_tags_from_certificate(CertificateArn=arn, Tags=[{"Key": REVOKED_TAG}])

    def delete_certificate(self, region: str, arn: str) -> None:
        """Delete the ACM certificate at ``arn``; one deleted already is fine. In use: ConflictError."""
        with translated(f"deleting {arn}"):
            try:
                client("acm", region).delete_certificate(CertificateArn=arn)
            except ClientError as error:
                code = error_code(error)
                if code == "ResourceInUseException":
                    raise ConflictError(
                        f"{arn} is still in use (a load balancer or distribution); detach it first"
                    ) from None
                if code != "ResourceNotFoundException":
                    raise
