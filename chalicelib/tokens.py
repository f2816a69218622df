"""X tokens at rest: encrypted with MultiFernet, keys from Secrets Manager."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from chalicelib.errors import StoreUnavailable


def _fernet_key(key_material: str) -> bytes:
    """A Fernet key from a secret's string, which may be any high-entropy text.

    Secrets Manager generates printable strings, not Fernet's 32 url-safe base64 bytes, so
    the key is derived; a value that already is a Fernet key is used as it is.
    """
    try:
        raw = base64.urlsafe_b64decode(key_material.encode())
        if len(raw) == 32 and len(key_material) == 44:
            return key_material.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(key_material.encode()).digest())


Keys = Sequence[str] | Callable[[], Sequence[str]]  # newest first; a provider is asked anew


class TokenCipher:
    """Encrypts with the newest key; decrypts with any, so keys rotate in place.

    Given a key provider (services passes one that reads the secret through its cache),
    the cipher follows a rotation by itself: an object built once can never pin an old key.
    """

    def __init__(self, keys_newest_first: Keys, *, check_keys: bool = True) -> None:
        self._keys = keys_newest_first
        self._built_for: tuple[str, ...] | None = None
        self._built: MultiFernet | None = None
        if check_keys:  # no key at all is a configuration error: say so at once
            self._fernet()

    def _fernet(self) -> MultiFernet:
        keys = tuple(self._keys() if callable(self._keys) else self._keys)
        if keys != self._built_for or self._built is None:
            if not keys:
                raise ValueError("no token encryption key configured")
            self._built = MultiFernet([Fernet(_fernet_key(k)) for k in keys])
            self._built_for = keys
        return self._built

    def encrypt(self, plaintext: str) -> str:
        return self._fernet().encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet().decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise StoreUnavailable("a stored token does not decrypt with any key") from error

    def rotate(self, ciphertext: str) -> str:
        return self._fernet().rotate(ciphertext.encode()).decode()
