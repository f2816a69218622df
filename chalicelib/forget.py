"""POST /forget: the person asks us to forget her account entirely.

Forgotten means gone, even with a refresh in flight. The order makes it so:

1. The account item loses its generation (accounts.begin_forget): from that moment no page
   or worker gets the account, and a writer that read it before cannot confirm what it
   writes; it deletes its own versions again (report_service).
2. Every version of every object of the account goes (archive.delete), then every
   session signed in to it, then the account item with the tokens (last: until then a
   retry finds the tokens to revoke; if that delete fails, the sweep finishes it).
3. A purge is queued for after the longest writer could still be running (refresh_queue):
   it deletes the folder again, should a writer have died between its write and its
   check; a daily sweep deletes any folder whose account is gone (sweep.py).
4. Only then is the token revoked at X: if storage fails, nothing is revoked, the person
   is still signed in and can press the button again. X failing (429, 5xx, no answer)
   ends with everything deleted and the page asking her to remove the app at X.

An account that signed in over OAuth 2.0 is revoked at X first, right after the forget
began (POST /2/oauth2/revoke, the refresh token, then the access token), before anything
is deleted: its tokens live in the account item alone, and no refresh can renew them any
more (a forget begun refuses every claim of a refresh, accounts.claim_token_refresh). A
storage failure after it leaves revoked tokens behind: asked again, the forget revokes
them again (X answers 200 for a token it no longer knows) and deletes the rest.

The daily sweep forgets an account nobody viewed for ACCOUNT_RETENTION_DAYS the same way
(`forget_idle`), only if it is still idle when the forget begins (sweep.Retention).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.accounts import AccountStore, AccountTokens
from chalicelib.archive import Archive
from chalicelib.config import OAUTH2
from chalicelib.errors import StoreUnavailable, XRateLimited, XRejected, XUnavailable
from chalicelib.observability import logger
from chalicelib.sessions import SessionStore
from chalicelib.x_auth import XAuth
from chalicelib.x_oauth2 import ACCESS_TOKEN, REFRESH_TOKEN, XOAuth2


@dataclass(frozen=True)
class Forgotten:
    username: str
    revoked_at_x: bool  # False when X could not be reached: the person should revoke there


class ForgetFlow:
    """Everything stored about an account goes, and our access at X is revoked."""

    def __init__(
        self,
        accounts: AccountStore,
        sessions: SessionStore,
        archive: Archive,
        x_auth: XAuth,
        clock: Callable[[], float],
        purge_later: Callable[[str], None] | None = None,
        *,
        x_oauth2: XOAuth2 | None = None,
    ) -> None:
        self._x2 = x_oauth2
        self._accounts = accounts
        self._sessions = sessions
        self._archive = archive
        self._x = x_auth
        self._clock = clock
        self._purge_later = purge_later

    def forget(self, account_id: str, username: str) -> Forgotten:
        """Delete the archive and the report (every version), every session signed in to
        the account, in any browser, and the account item; then revoke the token at X.

        Raises StoreUnavailable when storage fails: the forget can be asked again, and
        does again whatever is left (nothing was revoked yet)."""
        tokens = self._accounts.begin_forget(account_id, int(self._clock()))
        return self._finish(account_id, username, tokens)

    def forget_idle(self, account_id: str, viewed_before: int) -> Forgotten | None:
        """The retention's forget (sweep.Retention): as `forget`, of an account that left the
        refresh index and was last viewed before `viewed_before`; None when it was viewed
        or signed in to since (or is gone): then nothing is deleted or revoked."""
        begun = self._accounts.begin_idle_forget(account_id, int(self._clock()), viewed_before)
        if begun is None:
            return None
        return self._finish(account_id, begun.username, begun.tokens)

    def _finish(self, account_id: str, username: str, tokens: AccountTokens | None) -> Forgotten:
        """Everything after the forget began: S3, the sessions, the item, the purge, X (an
        OAuth 2.0 account's tokens are revoked first)."""
        oauth2 = tokens is not None and tokens.sign_in == OAUTH2
        revoked = self._revoke(account_id, tokens) if oauth2 else False
        deleted = self._archive.delete(account_id)
        self._sessions.end_account_sessions(account_id)
        self._accounts.forget(account_id)
        self._queue_purge(account_id)
        if not oauth2:
            revoked = self._revoke(account_id, tokens)
        logger.info(
            "account forgotten",
            extra={"account_id": account_id, "versions_deleted": deleted, "revoked": revoked},
        )
        return Forgotten(username, revoked)

    def _queue_purge(self, account_id: str) -> None:
        if self._purge_later is None:
            return
        try:
            self._purge_later(account_id)
        except StoreUnavailable:  # the daily sweep is the net under this one
            logger.exception("could not queue the purge after a forget")

    def _revoke(self, account_id: str, tokens: AccountTokens | None) -> bool:
        """Revoke the token at X; True when nothing of ours is left there."""
        if tokens is None:
            return True  # no token, or one X had already refused: nothing to revoke
        try:
            if tokens.sign_in == OAUTH2 and self._x2 is not None:
                # The refresh token first: with it gone, no access token can be made anew.
                self._x2.revoke(tokens.refresh_token, REFRESH_TOKEN)
                self._x2.revoke(tokens.access_token, ACCESS_TOKEN)
            else:
                self._x.invalidate(tokens.access_token, tokens.access_token_secret)
        except XRejected:
            return True  # X no longer knows the token: nothing left to revoke
        except (XUnavailable, XRateLimited) as error:
            logger.warning(
                "could not revoke the token at X",
                extra={"account_id": account_id, "error": type(error).__name__},
            )
            return False
        return True
