"""The certificate bucket in memory (``ports.Files``, ``ports.KeyArchive``): each certificate's files,
every version of them (the bucket is versioned), and its metadata.json."""

from __future__ import annotations

from typing import Any

from acmevault.domain.errors import AwsUnavailable, ConflictError
from acmevault.domain.keys import CertificateBundle


class FakeFiles:
    """``versions``: name → every bundle written, oldest first (files and metadata); ``down``: writes fail."""

    def __init__(self) -> None:
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.down = False

    def current(self, name: str) -> dict[str, Any]:
        """The latest files of ``name``: cert.pem, chain.pem, fullchain.pem, privkey.pem and metadata."""
        return self.versions[name][-1]

    # -- ports.Files --------------------------------------------------------------------------------

    def put_bundle(self, name: str, bundle: CertificateBundle, metadata: dict[str, Any]) -> dict[str, str]:
        if self.down:
            raise AwsUnavailable("S3: cannot reach it")
        number = str(len(self.versions.get(name, [])) + 1)
        files = {
            "cert.pem": bundle.certificate_pem,
            "chain.pem": bundle.chain_pem,
            "fullchain.pem": bundle.fullchain_pem,
            "privkey.pem": bundle.private_key_pem,
            "metadata": dict(metadata),
        }
        self.versions.setdefault(name, []).append(files)
        return dict.fromkeys(files, number)

    def get_certificate_pem(self, name: str) -> str:
        if name not in self.versions:
            raise ConflictError(f"certificate {name!r} has no cert.pem in S3; issue it again first")
        return str(self.current(name)["cert.pem"])

    def mark_revoked(self, name: str, revoked: dict[str, Any]) -> None:
        if self.down:
            raise AwsUnavailable("S3: cannot reach it")
        self.current(name)["metadata"]["revoked"] = dict(revoked)

    def find_private_key(self, name: str, certificate_pem: str) -> str | None:
        for files in reversed(self.versions.get(name, [])):
            if files["cert.pem"] == certificate_pem:
                return str(files["privkey.pem"])
        return None
