"""POST /forget: the person asks us to forget her account entirely."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.accounts import AccountStore
from chalicelib.archive import Archive
from chalicelib.errors import XRejected, XUnavailable
from chalicelib.observability import logger
from chalicelib.sessions import SessionStore
from chalicelib.x_auth import XAuth


@dataclass(frozen=True)
class Forgotten:
    username: str
    revoked_at_x: bool  # False when X could not be reached: the person should revoke there


class ForgetFlow:
    """Everything stored about an account goes, and our access at X is revoked."""

    def __init__(
        self, accounts: AccountStore, sessions: SessionStore, archive: Archive, x_auth: XAuth
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._archive = archive
        self._x = x_auth

    def forget(self, account_id: str, username: str) -> Forgotten:
        """Revoke the token at X, then delete the archive, the report, the account item and
        every session signed in to it, in any browser.

        X going unanswered does not keep anything here: the data is deleted all the same,
        and the page tells the person to revoke the app in her X settings.
        """
        tokens = self._accounts.account_tokens(account_id)
        revoked = tokens is None
        if tokens is not None:
            try:
                self._x.invalidate(tokens.access_token, tokens.access_token_secret)
                revoked = True
            except XRejected:
                revoked = True  # X no longer knows the token: nothing left to revoke
            except XUnavailable:
                logger.warning("could not revoke the token at X", extra={"account_id": account_id})
        self._archive.delete(account_id)
        self._accounts.forget(account_id)
        self._sessions.end_account_sessions(account_id)
        logger.info("account forgotten", extra={"account_id": account_id})
        return Forgotten(username, revoked)
