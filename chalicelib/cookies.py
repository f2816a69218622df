"""The session cookie: a session id signed with itsdangerous, and its Set-Cookie lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http.cookies import SimpleCookie

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "responsetime.session"


Keys = Sequence[str] | Callable[[], Sequence[str]]  # newest first; a provider is asked anew


class CookieCodec:
    """Signs with the newest key and verifies with any, so keys rotate without sign-outs.
    Given a key provider, it follows a rotation by itself (no object pins an old key)."""

    def __init__(self, keys_newest_first: Keys, *, secure: bool) -> None:
        self._keys = keys_newest_first
        self._built_for: tuple[str, ...] | None = None
        self._built: URLSafeSerializer | None = None
        self.secure = secure
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, Path=/ and
        # has no Domain: no subdomain can plant or overwrite it.
        self.name = "__Host-session" if secure else "session"

    @property
    def _serializer(self) -> URLSafeSerializer:
        keys = tuple(self._keys() if callable(self._keys) else self._keys)
        if keys != self._built_for or self._built is None:
            # itsdangerous wants oldest to newest: the last key signs.
            self._built = URLSafeSerializer(list(reversed(keys)), salt=SALT)
            self._built_for = keys
        return self._built

    def encode(self, session_id: str) -> str:
        return str(self._serializer.dumps(session_id))

    def decode(self, header: str | None) -> str | None:
        """The session id in a Cookie header, or None when absent or not signed by us."""
        if not header:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except Exception:
            return None
        morsel = jar.get(self.name)
        if morsel is None:
            return None
        try:
            session_id = self._serializer.loads(morsel.value)
        except BadSignature:
            return None
        return session_id if isinstance(session_id, str) else None

    def set_cookie(self, session_id: str, max_age: int) -> str:
        return self._line(self.encode(session_id), max_age)

    def clear_cookie(self) -> str:
        return self._line("", 0)

    def _line(self, value: str, max_age: int) -> str:
        parts = [f"{self.name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
        if self.secure:
            parts.append("Secure")
        # Lax, not Strict: the top-level navigation back from X must carry the cookie.
        parts.append("SameSite=Lax")
        return "; ".join(parts)
