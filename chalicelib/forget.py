"""POST /forget: the person asks us to forget her account entirely."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.archive import Archive
from chalicelib.errors import XRejected, XUnavailable
from chalicelib.observability import logger
from chalicelib.sessions import SessionStore
from chalicelib.x_auth import XAuth


@dataclass(frozen=True)
class Forgotten:
    username: str
    revoked_at_x: bool  # False when X could not be reached: the person should revoke there


def forget_account(
    store: SessionStore, archive: Archive, x_auth: XAuth, account_id: str, username: str
) -> Forgotten:
    """Revoke the token at X, then delete the archive, the report, the account item and
    every session signed in to it, in any browser.

    X going unanswered does not keep anything here: the data is deleted all the same, and
    the page tells the person to revoke the app in her X settings.
    """
    tokens = store.account_tokens(account_id)
    revoked = tokens is None
    if tokens is not None:
        try:
            x_auth.invalidate(tokens.access_token, tokens.access_token_secret)
            revoked = True
        except XRejected:
            revoked = True  # X no longer knows the token: nothing left to revoke
        except XUnavailable:
            logger.warning("could not revoke the token at X", extra={"account_id": account_id})
    archive.delete(account_id)
    store.forget_account(account_id)
    store.end_account_sessions(account_id)
    logger.info("account forgotten", extra={"account_id": account_id})
    return Forgotten(username, revoked)
