"""TokenRefresher's rules with fakes of our own (the store's conditions in a dict, X's
token endpoint scripted): who asks X, who waits and what a waiter ends with, and what
a refused or failed refresh leaves behind. tests/test_token_refresh.py races it for real."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from chalicelib.accounts import AccountStore, AccountTokens, OAuth2Pair
from chalicelib.config import OAUTH1, OAUTH2
from chalicelib.errors import ResponsetimeError, XRejected, XUnavailable
from chalicelib.token_refresh import AccountBearer, TokenRefresher
from chalicelib.x_oauth2 import Grant, XOAuth2
from tests.unit.fakes import Clock

T0 = 1_800_000_000.0
LEASE = 15


def account(**changes: object) -> AccountTokens:
    base = AccountTokens(
        account_id="42",
        username="fastbrand",
        access_token="access-1",
        access_token_secret="",
        sign_in=OAUTH2,
        refresh_token="refresh-1",
        expires_at=int(T0) + 7200,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class Store(AccountStore):
    """One account item: its pair, its claim (id, taken at), as the table's conditions
    hold them."""

    def __init__(self, item: AccountTokens) -> None:
        self.item: AccountTokens | None = item
        self.claim: tuple[str, int] | None = None
        self.reads = 0

    def account_tokens(self, account_id: str, *, consistent: bool = False) -> AccountTokens | None:
        self.reads += 1
        if self.item is None:
            return None
        claimed_at = self.claim[1] if self.claim else 0
        return dataclasses.replace(self.item, refresh_claimed_at=claimed_at)

    def claim_token_refresh(
        self, account: AccountTokens, claim: str, now: int, lease_seconds: int
    ) -> bool:
        if self.item is None or self.item.refresh_token != account.refresh_token:
            return False
        if self.claim is not None and self.claim[1] > now - lease_seconds:
            return False
        self.claim = (claim, now)
        return True

    def release_token_refresh(self, account_id: str, claim: str) -> None:
        if self.claim is not None and self.claim[0] == claim:
            self.claim = None

    def save_refreshed(self, account: AccountTokens, pair: OAuth2Pair) -> bool:
        if self.item is None or self.item.refresh_token != account.refresh_token:
            return False
        self.item = dataclasses.replace(
            self.item,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_at=pair.expires_at,
        )
        self.claim = None
        return True


class X(XOAuth2):
    """X's token endpoint: each call answers what `answer` says for the refresh token."""

    def __init__(self, answer: Callable[[str], Grant]) -> None:
        self._answer = answer
        self.refreshed: list[str] = []

    def refresh(self, refresh_token: str) -> Grant:
        self.refreshed.append(refresh_token)
        return self._answer(refresh_token)


def rotate(refresh_token: str) -> Grant:
    number = int(refresh_token.rsplit("-", 1)[1]) + 1
    return Grant(f"access-{number}", f"refresh-{number}", 7200)


def refresher(store: Store, x: X, clock: Clock, sleep: Callable[[float], None]) -> TokenRefresher:
    return TokenRefresher(store, x, clock, margin_seconds=300, lease_seconds=LEASE, sleep=sleep)


def no_sleep(_: float) -> None:
    raise AssertionError("nobody should wait here")


def test_a_token_good_for_longer_than_the_margin_is_used_as_it_is() -> None:
    store, x, clock = Store(account()), X(rotate), Clock(T0)
    tokens = refresher(store, x, clock, no_sleep)
    assert tokens.fresh(account()) == account()
    assert tokens.fresh(account(sign_in=OAUTH1, expires_at=0)).access_token == "access-1"
    clock.now = T0 + 7200 - 301
    assert tokens.fresh(account()).access_token == "access-1"
    assert x.refreshed == [] and store.reads == 0


def test_within_the_margin_the_winner_refreshes_and_stores_the_new_pair() -> None:
    store, x, clock = Store(account()), X(rotate), Clock(T0 + 7200 - 299)
    fresh = refresher(store, x, clock, no_sleep).fresh(account())
    assert x.refreshed == ["refresh-1"]
    assert (fresh.access_token, fresh.refresh_token) == ("access-2", "refresh-2")
    assert fresh.expires_at == int(clock.now) + 7200
    assert store.item is not None and store.item.refresh_token == "refresh-2"
    assert store.claim is None


def test_a_loser_waits_for_the_winner_and_uses_its_token_without_asking_x() -> None:
    # GIVEN another caller holds the claim, and writes its pair while we wait
    store, x, clock = Store(account()), X(rotate), Clock(T0)
    store.claim = ("theirs", int(T0))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds
        if len(waits) == 3:
            store.save_refreshed(account(), OAuth2Pair("access-9", "refresh-9", int(T0) + 7200))

    # WHEN we refresh
    fresh = refresher(store, x, clock, sleep).refresh(account())

    # THEN X was not asked, and we hold the winner's pair
    assert x.refreshed == []
    assert (fresh.access_token, fresh.refresh_token) == ("access-9", "refresh-9")
    assert waits == [0.05, 0.1, 0.2]


def test_when_the_winner_gives_up_a_loser_claims_in_turn() -> None:
    store, x, clock = Store(account()), X(rotate), Clock(T0)
    store.claim = ("theirs", int(T0))

    def sleep(seconds: float) -> None:
        clock.now += seconds
        store.release_token_refresh("42", "theirs")  # X was down for them

    fresh = refresher(store, x, clock, sleep).refresh(account())

    assert x.refreshed == ["refresh-1"]
    assert fresh.refresh_token == "refresh-2"


def test_a_claim_older_than_the_lease_is_taken_over() -> None:
    store, x, clock = Store(account()), X(rotate), Clock(T0)
    store.claim = ("dead", int(T0) - LEASE)
    fresh = refresher(store, x, clock, no_sleep).refresh(account())
    assert x.refreshed == ["refresh-1"] and fresh.refresh_token == "refresh-2"


def test_a_claim_that_never_finishes_is_x_unavailable_after_the_lease() -> None:
    store, x, clock = Store(account()), X(rotate), Clock(T0)
    store.claim = ("theirs", int(T0))

    def sleep(seconds: float) -> None:
        clock.now += seconds
        store.claim = ("theirs", int(clock.now))  # always fresh: someone keeps claiming

    with pytest.raises(XUnavailable):
        refresher(store, x, clock, sleep).refresh(account())
    assert x.refreshed == []


def test_x_refusing_the_refresh_token_is_xrejected_and_frees_the_claim() -> None:
    def refused(_: str) -> Grant:
        raise XRejected("oauth2/token refresh: X answered 400")

    store, x, clock = Store(account()), X(refused), Clock(T0)
    with pytest.raises(XRejected):
        refresher(store, x, clock, no_sleep).refresh(account())
    assert store.claim is None
    assert store.item is not None and store.item.refresh_token == "refresh-1"


def test_x_refusing_a_token_another_refresh_replaced_meanwhile_uses_the_new_pair() -> None:
    store = Store(account())

    def refused_after_another_wrote(_: str) -> Grant:
        store.item = dataclasses.replace(account(), access_token="access-7", refresh_token="r-7")
        raise XRejected("oauth2/token refresh: X answered 400")

    fresh = refresher(store, X(refused_after_another_wrote), Clock(T0), no_sleep).refresh(account())
    assert fresh.access_token == "access-7"


@pytest.mark.parametrize("failure", [XUnavailable("X answered 503"), ResponsetimeError("?")])
def test_x_failing_frees_the_claim_for_the_next_caller(failure: ResponsetimeError) -> None:
    def failing(_: str) -> Grant:
        raise failure

    store, clock = Store(account()), Clock(T0)
    with pytest.raises(type(failure)):
        refresher(store, X(failing), clock, no_sleep).refresh(account())
    assert store.claim is None
    assert refresher(store, X(rotate), clock, no_sleep).refresh(account()).access_token == (
        "access-2"
    )


def test_a_pair_refreshed_while_she_signed_in_anew_is_dropped_for_hers() -> None:
    store = Store(account())

    def signed_in_anew_meanwhile(token: str) -> Grant:
        store.item = dataclasses.replace(account(), access_token="hers", refresh_token="new-0")
        return rotate(token)

    fresh = refresher(store, X(signed_in_anew_meanwhile), Clock(T0), no_sleep).refresh(account())
    assert fresh.access_token == "hers"
    assert store.item is not None and store.item.refresh_token == "new-0"


def test_after_a_401_a_token_another_caller_refreshed_is_used_as_it_is() -> None:
    store, x = Store(account(access_token="access-5", refresh_token="refresh-5")), X(rotate)
    bearer = AccountBearer(refresher(store, x, Clock(T0), no_sleep), account())
    assert bearer.renewed("access-1") == "access-5"
    assert x.refreshed == []
    assert bearer.renewed("access-5") == "access-6"  # X refused the newest: refreshed
    assert x.refreshed == ["refresh-5"]


def test_a_forgotten_account_is_xrejected() -> None:
    store = Store(account())
    store.item = None
    bearer = AccountBearer(refresher(store, X(rotate), Clock(T0), no_sleep), account())
    with pytest.raises(XRejected):
        bearer.renewed("access-1")
