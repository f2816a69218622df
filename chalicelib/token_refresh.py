"""OAuth 2.0 access tokens kept fresh, with one refresh at X per pair, fleet-wide.

X's access tokens last two hours and its refresh tokens are single-use: X answers a second
refresh with the same refresh token as if it were revoked. In a fleet, a page view and a
refresh worker (or two workers) may find the same token expired at the same moment; if
both refreshed, one would be refused and the person signed out. So:

1. A refresh first claims the pair: one conditional UpdateItem on the account item, on the
   hash of the refresh token it read and on no other claim younger than the lease. One
   caller wins; only it asks X.
2. The winner writes the new pair with a condition on the old refresh token's hash (she
   may have signed in anew meanwhile: then her new pair stays, and the winner reads it).
3. A loser does not refresh: it re-reads the account (strongly consistent) until the
   winner's pair is there, and uses the winner's access token. Should the winner give up
   (X down: the claim is released) or die (the lease runs out), the loser claims in turn.
4. X refusing the refresh token means the person revoked the app: XRejected, which the
   report service answers as it answers X's 401 (the account is marked, its sessions end),
   unless another refresh wrote a new pair meanwhile, which is then used.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from chalicelib.accounts import AccountStore, AccountTokens, OAuth2Pair
from chalicelib.config import OAUTH2
from chalicelib.errors import ResponsetimeError, XRejected, XUnavailable
from chalicelib.observability import logger
from chalicelib.x_oauth2 import XOAuth2

POLL_SECONDS = 0.05  # a loser's first re-read; doubled up to POLL_MAX_SECONDS
POLL_MAX_SECONDS = 0.4
CLAIMS = 3  # a refresh claims at most this often before it gives up (XUnavailable)


class TokenRefresher:
    """Refreshes the OAuth 2.0 pairs of the accounts, each once however many ask at once."""

    def __init__(
        self,
        accounts: AccountStore,
        x_oauth2: XOAuth2,
        clock: Callable[[], float],
        *,
        margin_seconds: int,
        lease_seconds: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._accounts = accounts
        self._x = x_oauth2
        self._clock = clock
        self._margin = margin_seconds
        self._lease = lease_seconds
        self._sleep = sleep

    def fresh(self, account: AccountTokens) -> AccountTokens:
        """The account with an access token good for `margin_seconds` more (refreshed first
        when it is not); an OAuth 1.0a account as it is."""
        if account.sign_in != OAUTH2 or account.expires_at - self._clock() > self._margin:
            return account
        return self.refresh(account)

    def after_rejected(self, account: AccountTokens, rejected: str) -> AccountTokens:
        """X answered 401 to the access token `rejected`: the account with a new one (another
        caller's, if it refreshed meanwhile; else refreshed now)."""
        current = self._reread(account)
        if current.access_token != rejected:
            return current
        return self.refresh(current)

    def refresh(self, account: AccountTokens) -> AccountTokens:
        """The account with the pair that replaces its refresh token: refreshed at X by
        this caller if it wins the claim, else by the winner (module docstring)."""
        for _ in range(CLAIMS):
            claim = secrets.token_hex(8)
            now = int(self._clock())
            if self._accounts.claim_token_refresh(account, claim, now, self._lease):
                return self._refresh_claimed(account, claim)
            current = self._winners(account)
            if current.refresh_token != account.refresh_token:
                return current
            account = current  # the winner gave up or died: claim in turn
        raise XUnavailable("oauth2/token refresh: no refresh of the pair could finish")

    def _refresh_claimed(self, account: AccountTokens, claim: str) -> AccountTokens:
        try:
            grant = self._x.refresh(account.refresh_token)
        except XRejected:
            self._accounts.release_token_refresh(account.account_id, claim)
            current = self._reread(account)  # written by a refresh that began before ours?
            if current.refresh_token != account.refresh_token:
                return current
            raise
        except ResponsetimeError:
            self._accounts.release_token_refresh(account.account_id, claim)
            raise
        pair = OAuth2Pair(
            grant.access_token, grant.refresh_token, int(self._clock()) + grant.expires_in
        )
        if not self._accounts.save_refreshed(account, pair):
            logger.info("a refreshed pair was not stored: she signed in anew meanwhile")
            return self._reread(account)
        logger.info("access token refreshed", extra={"account_id": account.account_id})
        return AccountTokens(
            **{
                **account.__dict__,
                "access_token": pair.access_token,
                "refresh_token": pair.refresh_token,
                "expires_at": pair.expires_at,
                "refresh_claimed_at": 0,
            }
        )

    def _winners(self, account: AccountTokens) -> AccountTokens:
        """Another caller holds the claim: the account once its pair is new, or once the
        claim is gone without one (the winner gave up) or older than the lease."""
        deadline = self._clock() + self._lease
        wait = POLL_SECONDS
        while True:
            current = self._reread(account)
            if current.refresh_token != account.refresh_token:
                return current
            claimed = current.refresh_claimed_at
            if not claimed or claimed <= self._clock() - self._lease:
                return current
            if self._clock() >= deadline:
                raise XUnavailable("oauth2/token refresh: another refresh did not finish")
            self._sleep(wait)
            wait = min(wait * 2, POLL_MAX_SECONDS)

    def _reread(self, account: AccountTokens) -> AccountTokens:
        current = self._accounts.account_tokens(account.account_id, consistent=True)
        if current is None:  # forgotten, or refused by X and marked meanwhile
            raise XRejected("the account's tokens are gone or were refused")
        return current


class AccountBearer:
    """One account's access token for a v2 client (x_oauth2.BearerSource): refreshed before
    a request when about to expire, and after X's 401; the newest one is kept for the
    client's next request (the pages of one read)."""

    def __init__(self, refresher: TokenRefresher, account: AccountTokens) -> None:
        self._refresher = refresher
        self.account = account

    def current(self) -> str:
        self.account = self._refresher.fresh(self.account)
        return self.account.access_token

    def renewed(self, rejected: str) -> str:
        self.account = self._refresher.after_rejected(self.account, rejected)
        return self.account.access_token
