"""Where a request's credentials come from: the environment first, as every AWS SDK looks.

Lambda hands a function its role's credentials in the environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), and so do CI jobs and the local stack: those are read
directly, at no cost. Anywhere else (an operator's profile, SSO, a role to assume, instance metadata)
botocore's credential chain resolves them, imported only then, and refreshed as botocore refreshes
them; its service models are never loaded. The environment comes first in botocore's chain too, so the
same credentials are used either way.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True, repr=False)
class Credentials:
    """One set of AWS credentials. Its repr names the access key only: the secret never reaches a log."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r})"


class NoCredentials(Exception):
    """Neither the environment nor botocore's chain has credentials."""


def from_environment() -> Credentials | None:
    """The environment's credentials, None when it has none (both key variables are needed)."""
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        return None
    return Credentials(access, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


_lock = threading.Lock()


@cache
def _chain() -> Any:
    import botocore.session  # only without credentials in the environment

    return botocore.session.get_session().get_credentials()


def current() -> Credentials:
    """The credentials to sign the next request with (the environment's, else botocore's chain)."""
    found = from_environment()
    if found is not None:
        return found
    with _lock:
        chain = _chain()
    if chain is None:
        raise NoCredentials("no AWS credentials: none in the environment, the profile or the instance")
    frozen = chain.get_frozen_credentials()  # refreshes temporary credentials shortly before they lapse
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)


def forget() -> None:
    """Resolve the chain again at the next request (tests that change the profile)."""
    _chain.cache_clear()


@cache
def profile_region() -> str | None:
    """The region of the AWS profile (``region`` in ~/.aws/config), read through botocore."""
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    return str(region) if region else None


def configured_region() -> str | None:
    """The region a client without one uses: AWS_DEFAULT_REGION, else the profile's (as botocore reads it)."""
    return os.environ.get("AWS_DEFAULT_REGION") or profile_region()
