"""Where a service's requests go, and which region and name they are signed for.

AWS_ENDPOINT_URL_<SERVICE> (the service's id: DYNAMODB, ROUTE_53, SECRETS_MANAGER, ...) and then
AWS_ENDPOINT_URL point every request elsewhere, as botocore reads them (unless
AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true): that is how the local stack's moto is reached. Otherwise
a service's regional endpoint in the region's partition, and Route 53's one global endpoint per
partition. FIPS and dual-stack endpoints are not chosen here; name one in AWS_ENDPOINT_URL_<SERVICE>.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from acmevault.domain.errors import ConfigurationError

SERVICE_IDS = {  # botocore's service name -> its service id, as the environment variables spell it
    "acm": "ACM",
    "cloudformation": "CLOUDFORMATION",
    "dynamodb": "DYNAMODB",
    "events": "EVENTBRIDGE",
    "kms": "KMS",
    "route53": "ROUTE_53",
    "s3": "S3",
    "secretsmanager": "SECRETS_MANAGER",
    "sns": "SNS",
    "sqs": "SQS",
    "sts": "STS",
}
_PARTITIONS = (  # region prefix -> DNS suffix, Route 53's endpoint and signing region
    ("cn-", "amazonaws.com.cn", "route53.amazonaws.com.cn", "cn-northwest-1"),
    ("us-gov-", "amazonaws.com", "route53.us-gov.amazonaws.com", "us-gov-west-1"),
    ("us-isob-", "sc2s.sgov.gov", "route53.sc2s.sgov.gov", "us-isob-east-1"),
    ("us-iso-", "c2s.ic.gov", "route53.c2s.ic.gov", "us-iso-east-1"),
    ("", "amazonaws.com", "route53.amazonaws.com", "us-east-1"),
)


@dataclass(frozen=True)
class Endpoint:
    """A service's endpoint in one region: the URL's parts and the signing scope."""

    service: str  # botocore's name, also the signing name of every service here
    region: str  # the signing region
    secure: bool
    host: str  # with ":port" when the URL has one: the Host header as sent
    base_path: str  # "" or a path the URL carries, without a trailing slash
    custom: bool  # named by the environment (moto, a VPC endpoint), not AWS's own

    @property
    def hostname(self) -> str:
        """The host without its port."""
        return self.host.rsplit(":", 1)[0] if self.host.count(":") == 1 else self.host

    @property
    def port(self) -> int:
        """The TCP port: the URL's, else 443 or 80."""
        if self.host.count(":") == 1:
            return int(self.host.rsplit(":", 1)[1])
        return 443 if self.secure else 80


class EndpointNotChosen(ConfigurationError):
    """A FIPS or dual-stack endpoint was asked for that acmevault does not choose itself, and it is not named."""


def _configured_url(service: str) -> str | None:
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return os.environ.get(f"AWS_ENDPOINT_URL_{SERVICE_IDS[service]}") or os.environ.get("AWS_ENDPOINT_URL") or None


def _partition(region: str) -> tuple[str, str, str]:
    for prefix, suffix, route53, route53_region in _PARTITIONS:
        if region.startswith(prefix):
            return suffix, route53, route53_region
    raise AssertionError("the last partition matches every region")


def resolve(service: str, region: str) -> Endpoint:
    """The endpoint of ``service`` for ``region``."""
    suffix, route53_host, route53_region = _partition(region)
    signing_region = route53_region if service == "route53" else region
    url = _configured_url(service)
    named = bool(os.environ.get(f"AWS_ENDPOINT_URL_{SERVICE_IDS[service]}")) and url is not None
    variable = f"AWS_ENDPOINT_URL_{SERVICE_IDS[service]}"
    if not named and _asked("AWS_USE_DUALSTACK_ENDPOINT"):
        raise EndpointNotChosen(
            f"AWS_USE_DUALSTACK_ENDPOINT is set: acmevault does not choose dual-stack endpoints; name {service}'s in "
            f"{variable}"
        )
    fips = not named and _asked("AWS_USE_FIPS_ENDPOINT")
    if fips and (url is not None or suffix != "amazonaws.com" or region.startswith("us-gov-")):
        where = "beside AWS_ENDPOINT_URL" if url is not None else f"for {region} (only in the aws partition)"
        raise EndpointNotChosen(
            f"AWS_USE_FIPS_ENDPOINT is set: acmevault does not choose a FIPS endpoint {where}; name {service}'s "
            f"in {variable}"
        )
    if fips:  # the aws partition's FIPS endpoints, as botocore names them
        host = "route53-fips.amazonaws.com" if service == "route53" else f"{service}-fips.{region}.{suffix}"
        return Endpoint(service, signing_region, True, host, "", False)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"the endpoint URL for {service} ({variable} or AWS_ENDPOINT_URL) is not an http(s) URL: {url!r}"
            )
        return Endpoint(service, signing_region, parts.scheme == "https", parts.netloc, parts.path.rstrip("/"), True)
    host = route53_host if service == "route53" else f"{service}.{region}.{suffix}"
    return Endpoint(service, signing_region, True, host, "", False)


def _asked(variable: str) -> bool:
    return os.environ.get(variable, "").lower() == "true"
