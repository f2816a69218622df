"""The session cookie: a session id signed with itsdangerous, and its Set-Cookie lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from itsdangerous import BadData, URLSafeSerializer

SALT = "responsetime.session"

# A browser sends one cookie of a name per domain and path that match the request: ours, and
# perhaps a parent domain's of the same name. More than a few is someone stuffing the header,
# and each costs a signature check.
MAX_CANDIDATES = 8
# Browsers keep a cookie of at most 4096 bytes; ours is a few dozen ASCII characters.
MAX_VALUE_LENGTH = 4096


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
        """The session id in a Cookie header, or None when absent or not signed by us. Of
        several cookies of our name, the first that we signed: a foreign one sent beside ours
        (set by a parent domain, or left by another app on localhost) neither hides ours
        nor signs anyone out."""
        if not header:
            return None
        serializer = self._serializer  # the keys, asked for once per header
        for value in cookie_values(header, self.name)[:MAX_CANDIDATES]:
            session_id = _verified(serializer, value)
            if session_id is not None:
                return session_id
        return None

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


def cookie_values(header: str, name: str) -> list[str]:
    """Every value a Cookie header carries under `name`, in the order the browser sent them.

    Parsed by hand, not by http.cookies.SimpleCookie: one cookie it cannot read, set by other
    code of the site or of a parent domain (`prefs={"theme": "dark"}`, `consent=yes no`,
    `utm="x`), makes SimpleCookie drop every cookie of the header, ours included; and of two
    of one name it keeps only the last. Here each `;`-separated pair is read on its own (split
    on the first `=`, stripped, one pair of double quotes taken off), and what is not a pair
    is skipped."""
    values = []
    for pair in header.split(";"):
        key, equals, value = pair.partition("=")
        if not equals or key.strip() != name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values.append(value)
    return values


def _verified(serializer: URLSafeSerializer, value: str) -> str | None:
    """The session id `value` signs with one of our keys, or None. What is not ASCII is not
    ours and is not even encoded for the check (a lone surrogate would fail to encode)."""
    if not value or len(value) > MAX_VALUE_LENGTH or not value.isascii():
        return None
    try:
        session_id = serializer.loads(value)
    except BadData:  # a bad signature, or (signed by us, so never) a payload that is not JSON
        return None
    return session_id if isinstance(session_id, str) else None
