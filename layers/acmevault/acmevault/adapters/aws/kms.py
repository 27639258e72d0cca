"""Private keys of orders in flight, encrypted with the stack's KMS key before they touch the table."""

from __future__ import annotations

from acmevault.adapters.aws.clients import client, translated


class KmsKeyVault:
    """KeyVault with the stack's KMS key; the certificate's name is bound in as the encryption context."""

    def __init__(self, key_id: str | None, region: str | None = None) -> None:
        self.key_id = key_id
        self._region = region

    def encrypt(self, name: str, plaintext: str) -> bytes | None:
        """None when no key is configured: the order then cannot be resumed after a crash."""
        if not self.key_id:
            return None
        with translated(f"encrypting the new key of {name!r}"):
            response = client("kms", self._region).encrypt(
                KeyId=self.key_id, Plaintext=plaintext.encode(), EncryptionContext={"acmevault:certificate": name}
            )
        return bytes(response["CiphertextBlob"])

    def decrypt(self, name: str, ciphertext: bytes) -> str:
        """The key encrypted for ``name``; AwsError when the ciphertext was encrypted for another name."""
        with translated(f"decrypting the pending key of {name!r}"):
            response = client("kms", self._region).decrypt(
                CiphertextBlob=ciphertext, EncryptionContext={"acmevault:certificate": name}
            )
        return bytes(response["Plaintext"]).decode()
