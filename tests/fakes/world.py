"""A stack in memory for the issuance and renewal use cases: ``Services`` over the fakes beside this module.

Two Route 53 zones (example.com, example.org), one directory ``ca`` with a registered account at a
ScriptedCa, the stack's default ACM regions, and a clock that moves only when the test moves it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from acmevault.app.accounts import Accounts
from acmevault.app.definition import define_certificate
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, CertificateSpec
from acmevault.domain.directory import DirectoryCredential

from tests.fakes.acm import FakeAcm
from tests.fakes.bucket import FakeFiles
from tests.fakes.ca_session import ScriptedCa, ScriptedCaAccounts
from tests.fakes.certificate_table import InMemoryCertificates
from tests.fakes.directory_vault import FakeDirectoryVault
from tests.fakes.kms import FakeKeyVault
from tests.fakes.metrics import MetricsLog
from tests.fakes.recorders import Clock, IssueRecorder, Outlets
from tests.fakes.route53 import FakeDns

DIRECTORY = "ca"
ACCOUNT_URL = "https://ca.test/account/1"


@dataclass
class World:
    """Every fake, and the ``services`` built over them."""

    regions: tuple[str, ...] = ("us-east-1",)
    clock: Clock = field(default_factory=Clock)
    vault: FakeDirectoryVault = field(default_factory=FakeDirectoryVault)
    dns: FakeDns = field(default_factory=FakeDns)
    certificates: InMemoryCertificates = field(default_factory=InMemoryCertificates)
    acm: FakeAcm = field(default_factory=FakeAcm)
    files: FakeFiles = field(default_factory=FakeFiles)
    keys: FakeKeyVault = field(default_factory=FakeKeyVault)
    outlets: Outlets = field(default_factory=Outlets)
    metrics: MetricsLog = field(default_factory=MetricsLog)
    queue: IssueRecorder = field(default_factory=IssueRecorder)
    ca: ScriptedCa = field(init=False)
    services: Services = field(init=False)
    cas: ScriptedCaAccounts = field(default_factory=ScriptedCaAccounts, init=False)

    def __post_init__(self) -> None:
        self.dns.add_zone("Z0COM", "example.com")
        self.dns.add_zone("Z0ORG", "example.org")
        self.ca = ScriptedCa(self.dns, self.clock)
        self.add_ca(self.ca, DIRECTORY, ACCOUNT_URL)
        self.services = Services(
            directories=self.vault,
            accounts=Accounts(self.vault, ca=self.cas, open_session=self.open_session, states=self.vault),
            certificates=self.certificates,
            dns=self.dns,
            acm=self.acm,
            files=self.files,
            events=self.outlets,
            alerts=self.outlets,
            keys=self.keys,
            metrics=self.metrics,
            default_acm_regions=self.regions,
            clock=self.clock,
            rng=random.Random(7),
        )

    def add_ca(self, ca: ScriptedCa, directory: str, account_url: str) -> None:
        """Vault ``directory`` with a registered account at ``ca``."""
        self.cas.cas[ca.directory_url] = ca
        credential = DirectoryCredential(ca.directory_url, account_key=f"account key {account_url}")
        self.vault.credentials[directory] = credential.with_account(f"account key {account_url}", account_url)

    def open_session(self, credential: DirectoryCredential, key_pem: str) -> object:
        """The session factory ``Accounts`` takes: a session at the CA the credential names."""
        return self.cas.cas[credential.directory_url].open_session(credential, key_pem)

    def define(self, name: str, *domains: str, **spec: object) -> Certificate:
        """Define a certificate from directory ``ca`` (``spec``: CertificateSpec.parse fields)."""
        data = {"domains": list(domains), "directory": DIRECTORY, **spec}
        return define_certificate(CertificateSpec.parse(name, data), self.services)

    def record(self, name: str) -> Certificate:
        """The certificate as the table holds it now."""
        return self.certificates.get(name)
