"""The ID token checks of the OpenID Connect sign-in (:func:`cgd_bridge.server.web.oidc.verify_id_token`)
on tokens the test signs itself: every claim the bridge must check, one at a time, and the
signature (another key, ``alg: none``, a key the set does not have). The whole sign-in against a
real provider is tests/e2e/test_oidc_sign_in.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet, RSAKey

from cgd_bridge.server.web.oidc import SignInRefused, verify_id_token

ISSUER = "https://login.knbs.example/realms/staff"
CLIENT = "cgd-bridge"
NONCE = "n-0123456789"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
KEYS = KeySet.import_key_set({"keys": [KEY.as_dict(private=False)]})


def token(key: Any = KEY, header: dict[str, Any] | None = None, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": NONCE}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, claims, key)


def verify(t: str) -> dict[str, Any]:
    return verify_id_token(t, keys=KEYS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, algorithms=["RS256"])


def test_a_good_token_passes() -> None:
    assert verify(token())["sub"] == "u1"
    assert verify(token(aud=[CLIENT]))["sub"] == "u1"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"iss": None}, "iss"),
        ({"aud": "another-client"}, "aud"),
        ({"aud": None}, "aud"),
        ({"nonce": "replayed"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int(time.time()) - 3600}, "exp"),
        ({"aud": ["another-client", CLIENT]}, "azp"),  # several audiences need azp = the bridge
    ],
)
def test_each_claim_is_checked(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(SignInRefused) as caught:
        verify(token(**changes))
    assert words in caught.value.problem


def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(SignInRefused, match="not valid"):
        verify(token(key=OTHER))


def test_an_unsigned_token_is_refused() -> None:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": NONCE}
    unsigned = f"{b64({'alg': 'none'})}.{b64(claims)}."
    with pytest.raises(SignInRefused):
        verify_id_token(
            unsigned, keys=KEYS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, algorithms=["none", "RS256"]
        )


def test_an_unknown_key_id_asks_for_the_keys_again() -> None:
    with pytest.raises(InvalidKeyIdError):
        verify(token(header={"alg": "RS256", "kid": "rotated"}))
