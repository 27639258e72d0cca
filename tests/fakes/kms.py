"""KMS in memory (``ports.KeyVault``): what is encrypted for one certificate decrypts only for it."""

from __future__ import annotations

import base64

from acmevault.domain.errors import AwsError


class FakeKeyVault:
    """Ciphertext is the certificate's name and the base64 of the plaintext, reversed: not the plaintext."""

    def __init__(self) -> None:
        self.encrypted = 0

    def encrypt(self, name: str, plaintext: str) -> bytes | None:
        self.encrypted += 1
        return (name + ":" + base64.b64encode(plaintext.encode()).decode())[::-1].encode()

    def decrypt(self, name: str, ciphertext: bytes) -> str:
        owner, _, encoded = ciphertext.decode()[::-1].partition(":")
        if owner != name:
            raise AwsError(f"KMS: the key of {owner!r} was asked for by {name!r} (encryption context mismatch)")
        return base64.b64decode(encoded).decode()
