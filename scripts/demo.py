"""`make demo`: the main job on the local stack, as a user would run it.

1. start the local stack (Pebble with EAB required + moto server) on 127.0.0.1
2. vault a directory credential (the HMAC key piped on stdin, never on argv)
3. define three certificates: three names; RSA 2048; EC P-384
4. run the scheduled job as Lambda would: the renew function queues what is due, and the
   issue function consumes the queue (the SQS event is built from the real queue's messages)
5. print the result, and stop what was started
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".acmevault-local" / "demo"
ACMEVAULT = str(Path(sys.executable).parent / "acmevault")

CERTIFICATES = [
    ("web", ["www.example.com", "example.com", "api.example.com"], "ec-p256"),
    ("legacy-rsa", ["legacy.example.org"], "rsa-2048"),
    ("edge-p384", ["edge.example.com"], "ec-p384"),
]


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def run(*argv: str, env: dict[str, str], stdin: str | None = None, capture: bool = False) -> str:
    result = subprocess.run(
        [ACMEVAULT, *argv], env=env, input=stdin, text=True, capture_output=capture, cwd=ROOT, check=False
    )
    if result.returncode != 0:
        sys.exit(f"demo: 'acmevault {' '.join(argv)}' failed (exit {result.returncode}) {result.stderr or ''}")
    return result.stdout if capture else ""


def _sqs(env: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "sqs",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )


def sqs_event(env: dict[str, str]) -> dict[str, object]:
    """What Lambda's SQS event source mapping would hand the issue function: the queue's messages."""
    sqs = _sqs(env)
    queue_url = env["ACMEVAULT_QUEUE_URL"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    records = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        for m in messages:
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": env["AWS_REGION"],
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return {"Records": records}


def main() -> int:
    env = dict(os.environ)
    step("starting the local stack: Pebble (EAB required) + moto server")
    up = run("local", "up", "--state-dir", str(STATE), env=env, capture=True)
    env.update(line.removeprefix("export ").split("=", 1) for line in up.splitlines() if line.startswith("export "))
    try:
        kid, hmac_key = next(iter(json.loads(Path(env["ACMEVAULT_LOCAL_EAB_FILE"]).read_text()).items()))
        step(f"vaulting the directory credential (KID {kid}; the HMAC key goes on stdin)")
        run(
            "directory",
            "put",
            "demo",
            "--url",
            env["ACMEVAULT_LOCAL_DIRECTORY_URL"],
            "--eab-kid",
            kid,
            env=env,
            stdin=hmac_key,
        )
        step("defining three certificates")
        for name, domains, key_type in CERTIFICATES:
            run(
                "cert",
                "put",
                name,
                *[a for d in domains for a in ("-d", d)],
                "--directory",
                "demo",
                "--key-type",
                key_type,
                env=env,
            )
        step("the schedule fires: RenewFunction queues what is due")
        local = ["local", "invoke", "--state-dir", str(STATE)]
        run(*local, "RenewFunction", "-e", "events/renew-schedule.json", env={**env, "POWERTOOLS_LOG_LEVEL": "WARNING"})
        step("IssueFunction consumes the queue (an SQS event built from the real queue's messages)")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as event:
            json.dump(sqs_event(env), event)
        try:
            run(*local, "IssueFunction", "-e", event.name, env={**env, "POWERTOOLS_LOG_LEVEL": "WARNING"})
        finally:
            os.unlink(event.name)
        step("result")
        run("cert", "list", env=env)
        events = _sqs(env).receive_message(QueueUrl=env["ACMEVAULT_LOCAL_EVENTS_QUEUE_URL"], MaxNumberOfMessages=10)
        kinds = [json.loads(m["Body"])["detail-type"] for m in events.get("Messages", [])]
        print(f"\nEventBridge events delivered: {', '.join(sorted(kinds)) or 'none'}")
    finally:
        step("stopping the local stack")
        run("local", "down", "--state-dir", str(STATE), env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
