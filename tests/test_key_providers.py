"""Objects built once per container follow a key rotation by themselves, and services'
reset forgets every cached factory. GIVEN / WHEN / THEN."""

from __future__ import annotations

from chalicelib import services
from chalicelib.cookies import CookieCodec
from chalicelib.tokens import TokenCipher
from chalicelib.x_auth import XAuth


def test_a_cipher_built_once_encrypts_with_the_key_in_force() -> None:
    # GIVEN a cipher whose provider serves the keys of a secret that is then rotated
    keys = ["old key"]
    cipher = TokenCipher(lambda: keys)
    before = cipher.encrypt("a token")
    # WHEN the secret becomes {"current": NEW, "previous": OLD}
    keys[:] = ["new key", "old key"]
    after = cipher.encrypt("a token")
    # THEN the same object encrypts with the new key, and reads what the old one wrote
    assert TokenCipher(["new key"]).decrypt(after) == "a token"
    assert cipher.decrypt(before) == "a token"
    # AND once the old key is dropped, only the new one is accepted
    keys[:] = ["new key"]
    assert cipher.decrypt(after) == "a token"


def test_a_cookie_codec_built_once_signs_with_the_key_in_force() -> None:
    keys = ["old"]
    codec = CookieCodec(lambda: keys, secure=False)
    old_cookie = codec.set_cookie("session-1", 60).split(";")[0]
    keys[:] = ["new", "old"]
    new_cookie = codec.set_cookie("session-1", 60).split(";")[0]
    assert CookieCodec(["new"], secure=False).decode(new_cookie) == "session-1"
    assert codec.decode(old_cookie) == "session-1"  # nobody is signed out by a rotation


def test_x_auth_uses_the_credentials_in_force() -> None:
    credentials = ("key-1", "secret-1")
    auth = XAuth("http://127.0.0.1:9", lambda: credentials, 1.0)
    assert auth.consumer == ("key-1", "secret-1")
    credentials = ("key-2", "secret-2")
    assert auth.consumer == ("key-2", "secret-2")


def test_reset_forgets_every_cached_factory() -> None:
    # GIVEN every function of services that keeps what it built (config's settings, which
    #       services imports, is cleared by config.clear_caches, which reset calls)
    factories = [
        value
        for name, value in vars(services).items()
        if callable(value) and hasattr(value, "cache_clear") and name != "settings"
    ]
    # THEN each is registered, so reset() clears it
    assert len(factories) >= 10
    assert {id(f) for f in factories} <= {id(f) for f in services._CACHES}
