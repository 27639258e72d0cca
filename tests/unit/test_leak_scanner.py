"""The leak scanner that guards every test must itself catch leaks."""

from tests.conftest import find_secrets


def test_the_scanner_finds_an_hmac_key_and_a_private_key():
    secret = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    assert find_secrets(f"detail: {secret}", {secret})
    assert find_secrets("-----BEGIN EC PRIVATE KEY-----", set())
    assert find_secrets("all clear", {secret}) == []
