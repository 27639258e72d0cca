"""The local stack: Pebble (a real ACME server, EAB required) and moto in server mode, on 127.0.0.1.

Used by `acmevault local up|down`, `make demo` and the test session. The code under
test reaches both only through AWS_ENDPOINT_URL and REQUESTS_CA_BUNDLE. That endpoint is
acmevault_cli.local.acm, a proxy that passes every call to moto and refuses the certificate imports
real ACM refuses (moto takes them).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from acmevault.domain.errors import ConfigurationError

REGION = "us-east-1"
EAB_KIDS = ("kid-1", "kid-2", "kid-3")
DEMO_ZONES = ("example.com", "example.org")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The local stack's admins: moto's default caller (the CLI's identity here) and the operator role the
# sample API events in events/ are signed by, so `make demo` and `acmevault local invoke` work as they are.
LOCAL_ADMINS = ("arn:aws:sts::123456789012:user/moto", "arn:aws:iam::123456789012:role/pki-operator")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # as the servers themselves bind: a port in TIME_WAIT from a stack just stopped is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalStack:
    state_dir: Path
    pebble_port: int = 14000
    management_port: int = 15000
    moto_port: int = 14566  # the AWS endpoint: the strict-ACM proxy, in front of moto
    moto_backend_port: int = 0  # where moto itself listens (0: a free port, chosen at up)
    name: str = "acmevault-local"
    certificate_lifetime_seconds: int = 90 * 24 * 3600
    # 0.0.0.0 lets containers (sam local invoke) reach the stack through host.docker.internal.
    listen: str = "127.0.0.1"
    pebble_env: dict[str, str] = field(default_factory=dict)
    # host:port of a DNS server (acmevault_cli.local.dns) Pebble looks dns-01 records up in: Pebble then
    # really checks every challenge instead of taking it as valid.
    dns_server: str | None = None
    # Run that DNS server here, on this port, reading this stack's Route 53 (and point Pebble at it).
    dns_port: int | None = None

    # -- paths -------------------------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.pebble_port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.management_port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def ca_bundle(self) -> Path:
        return self.state_dir / "pebble-tls-ca.pem"

    @property
    def eab_file(self) -> Path:
        return self.state_dir / "eab.json"

    def eab_keys(self) -> dict[str, str]:
        """Pebble's EAB keys (test keys this stack made up; never real credentials)."""
        return dict(json.loads(self.eab_file.read_text()))

    # -- lifecycle ---------------------------------------------------------------------------

    def up(self) -> dict[str, str]:
        pebble = shutil.which("pebble") or "/usr/bin/pebble"
        if not os.path.exists(pebble):
            raise ConfigurationError("Pebble is not installed: apt-get install pebble")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.down()
        self.moto_backend_port = self.moto_backend_port or free_port()
        if self.dns_port is not None:
            self.dns_server = self.dns_server or f"127.0.0.1:{self.dns_port}"
        for port in (
            self.pebble_port,
            self.management_port,
            self.moto_port,
            self.moto_backend_port,
            *([self.dns_port] if self.dns_port else []),
        ):
            if not _port_free(port):
                raise ConfigurationError(
                    f"127.0.0.1:{port} is in use (another local stack? stop it with 'acmevault local down')"
                )
        self._write_tls()
        self._write_pebble_config()
        env = {
            **os.environ,
            **({"PEBBLE_VA_ALWAYS_VALID": "1"} if self.dns_server is None else {}),
            "PEBBLE_VA_NOSLEEP": "1",
            **self.pebble_env,
        }
        argv = [pebble, "-config", str(self.state_dir / "pebble.json")]
        if self.dns_server is not None:
            argv += ["-dnsserver", self.dns_server]
        self._spawn("pebble", argv, env)
        self._spawn(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_backend_port)],
            {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )
        self._spawn(
            "acm",
            [
                *(
                    sys.executable,
                    "-m",
                    "acmevault_cli.local.acm",
                    "--host",
                    self.listen,
                    "--port",
                    str(self.moto_port),
                ),
                *("--upstream", f"http://127.0.0.1:{self.moto_backend_port}"),
            ],
            dict(os.environ),
        )
        if self.dns_port is not None:
            self._spawn(
                "dns",
                [sys.executable, "-m", "acmevault_cli.local.dns", "--port", str(self.dns_port)],
                {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": REGION},
            )
        self._wait(lambda: self._get(self.directory_url, tls=True), "pebble")
        self._wait(lambda: self._get(f"http://127.0.0.1:{self.moto_backend_port}/moto-api/", tls=False), "moto")
        self._wait(lambda: self._get(self.endpoint_url + "/moto-api/", tls=False), "acm")
        if self.dns_port is not None:
            from acmevault_cli.local.dns import answers

            self._wait(lambda: answers(f"127.0.0.1:{self.dns_port}"), "dns")
        variables = self._provision()
        if self.dns_server is not None:
            variables["ACMEVAULT_LOCAL_DNS"] = self.dns_server
        (self.state_dir / "env").write_text("".join(f"export {k}={v}\n" for k, v in variables.items()))
        return variables

    def down(self) -> list[str]:
        stopped = []
        for service in ("pebble", "moto", "acm", "dns"):
            pid_file = self.state_dir / f"{service}.pid"
            if not pid_file.exists():
                continue
            pid = int(pid_file.read_text())
            try:
                os.killpg(pid, signal.SIGTERM)
                stopped.append(service)
            except ProcessLookupError:
                pass
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            pid_file.unlink(missing_ok=True)
        return stopped

    def env(self) -> dict[str, str]:
        path = self.state_dir / "env"
        if not path.exists():
            raise ConfigurationError(f"the local stack is not up ({path} is missing): run 'acmevault local up'")
        return dict(line.removeprefix("export ").split("=", 1) for line in path.read_text().splitlines() if line)

    def pebble_root_pem(self) -> str:
        """The root that signs what Pebble issues (it changes with every Pebble start)."""
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(self.management_url + "/roots/0", context=context, timeout=5) as response:
            return str(response.read().decode())

    # -- internals ---------------------------------------------------------------------------

    def _spawn(self, service: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.state_dir / f"{service}.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            argv, cwd=self.state_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        (self.state_dir / f"{service}.pid").write_text(str(process.pid))

    def _get(self, url: str, tls: bool) -> bool:
        context = ssl.create_default_context(cafile=str(self.ca_bundle)) if tls else None
        try:
            with urllib.request.urlopen(url, context=context, timeout=1) as response:
                return bool(response.status < 500)
        except OSError:
            return False

    def _wait(self, ready: Any, service: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        pid = int((self.state_dir / f"{service}.pid").read_text())
        while not ready():
            exited = os.waitpid(pid, os.WNOHANG)[0] == pid
            if exited or time.monotonic() > deadline:
                self.down()
                log_tail = (self.state_dir / f"{service}.log").read_text()[-1500:]
                why = "exited" if exited else f"did not answer within {seconds:.0f} s"
                raise ConfigurationError(f"{service} {why}; the end of its log:\n{log_tail}")
            time.sleep(0.05)

    def _write_tls(self) -> None:
        """A throwaway CA and a certificate for Pebble's own listener (Pebble ships none)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acmevault local stack CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.DNSName("host.docker.internal"),
                        x509.IPAddress(IPv4Address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_bundle.write_bytes(ca.public_bytes(pem))
        (self.state_dir / "pebble-tls.pem").write_bytes(cert.public_bytes(pem))
        key_path = self.state_dir / "pebble-tls.key"
        key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        key_path.chmod(0o600)

    def _write_pebble_config(self) -> None:
        keys = {kid: secrets.token_urlsafe(48) for kid in EAB_KIDS}
        self.eab_file.write_text(json.dumps(keys))
        self.eab_file.chmod(0o600)
        config = {
            "pebble": {
                "listenAddress": f"{self.listen}:{self.pebble_port}",
                "managementListenAddress": f"{self.listen}:{self.management_port}",
                "certificate": str(self.state_dir / "pebble-tls.pem"),
                "privateKey": str(self.state_dir / "pebble-tls.key"),
                "httpPort": 5002,
                "tlsPort": 5001,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": True,
                "externalAccountMACKeys": keys,
                # 90 days, like the public CAs today (Pebble's default is five years).
                "certificateValidityPeriod": self.certificate_lifetime_seconds,
            }
        }
        path = self.state_dir / "pebble.json"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)

    def _provision(self) -> dict[str, str]:
        """Create in moto what template.yaml creates in AWS; return the variables that point at it."""
        import boto3

        session = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

        def aws(service: str) -> Any:
            return session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

        kms_key = aws("kms").create_key(Description="acmevault local")["KeyMetadata"]["Arn"]
        bucket = f"{self.name}-certificates"
        s3 = aws("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}}
                ]
            },
        )
        table = self.name
        aws("dynamodb").create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "due_pk", "due_at", "alert_at")
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": "due_pk", "KeyType": "HASH"},
                        {"AttributeName": sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
                for index, sort_key in (("due", "due_at"), ("alert", "alert_at"))
            ],
        )
        sqs = aws("sqs")
        dlq = sqs.create_queue(QueueName=f"{self.name}-issue-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(
            QueueName=f"{self.name}-issue",
            Attributes={
                "VisibilityTimeout": "900",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        # Alerts and events land in queues here, so people (and tests) can read what acmevault said.
        topic = aws("sns").create_topic(Name=f"{self.name}-alerts")["TopicArn"]
        alerts_inbox = self._inbox(sqs, f"{self.name}-alerts-inbox")
        aws("sns").subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=alerts_inbox[1], Attributes={"RawMessageDelivery": "true"}
        )
        events_inbox = self._inbox(sqs, f"{self.name}-events")
        aws("events").put_rule(Name=f"{self.name}-all", EventPattern=json.dumps({"source": ["acmevault"]}))
        aws("events").put_targets(Rule=f"{self.name}-all", Targets=[{"Id": "inbox", "Arn": events_inbox[1]}])
        r53 = aws("route53")
        for zone in DEMO_ZONES:
            r53.create_hosted_zone(Name=zone, CallerReference=f"acmevault-{zone}-{time.time()}")
        self._register(aws("cloudformation"), table, bucket, kms_key, queue, topic)
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
            "ACMEVAULT_TABLE": table,
            "ACMEVAULT_BUCKET": bucket,
            "ACMEVAULT_KMS_KEY_ID": kms_key,
            "ACMEVAULT_QUEUE_URL": queue,
            "ACMEVAULT_ACM_REGIONS": REGION,
            "ACMEVAULT_ALERT_TOPIC_ARN": topic,
            "ACMEVAULT_ADMIN_PRINCIPALS": ",".join(LOCAL_ADMINS),
            "ACMEVAULT_STACK_NAME": self.name,
            "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL": alerts_inbox[0],
            "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL": events_inbox[0],
            "ACMEVAULT_LOCAL_DIRECTORY_URL": self.directory_url,
            "ACMEVAULT_LOCAL_EAB_FILE": str(self.eab_file),
            "ACMEVAULT_LOCAL_STATE": str(self.state_dir),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def _register(self, cloudformation: Any, table: str, bucket: str, kms_key: str, queue: str, topic: str) -> None:
        """A CloudFormation stack named like this one with template.yaml's outputs: `--stack` works here too."""
        from acmevault.composition.config import secret_prefix_for

        from acmevault_cli.stack import outputs_template

        outputs = {
            "CertificateTableName": table,
            "CertificateBucketName": bucket,
            "KeyArn": kms_key,
            "IssueQueueUrl": queue,
            "AlertTopicArn": topic,
            "SecretPrefix": secret_prefix_for(self.name),
            "DefaultAcmRegions": REGION,
            "EventBus": "default",
        }
        cloudformation.create_stack(StackName=self.name, TemplateBody=outputs_template(outputs))

    @staticmethod
    def _inbox(sqs: Any, name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return str(url), str(arn)
