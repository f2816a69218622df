"""X's budgets: a DynamoDB bucket per account token and endpoint (and the app's), taken with
conditional UpdateItems and brought in line with what X's headers say.

Window rules with a clock the test moves, in moto in-process; then contention: threads
taking from one bucket, and from several tokens' buckets, at once, through moto's server
over HTTP, as Lambdas would."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.budget import BudgetExhausted, Grant, Limit, TokenBucket
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET
from tests.support.aws_calls import AwsCallCounter

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(aws: dict[str, str]) -> tuple[Any, str]:
    import boto3

    return boto3.client("dynamodb"), aws["TABLE_NAME"]


def bucket(
    table: tuple[Any, str], clock: Clock, **limits: Limit | tuple[Limit, ...]
) -> TokenBucket:
    return TokenBucket(table[0], table[1], limits, clock)


def test_a_window_hands_out_its_capacity_then_refuses_until_it_ends(
    table: tuple[Any, str],
) -> None:
    clock = Clock()
    mentions = bucket(table, clock, mentions=Limit(3, 900, 10))

    grants = [mentions.take("mentions") for _ in range(3)]
    with pytest.raises(BudgetExhausted) as refused:
        mentions.take("mentions")

    assert [g.taken for g in grants if g] == [1, 2, 3]
    assert refused.value.reset_at == T0 + 910
    clock.now = T0 + 909
    with pytest.raises(BudgetExhausted):
        mentions.take("mentions")
    clock.now = T0 + 910
    grant = mentions.take("mentions")
    assert grant == Grant("mentions", 1, T0 + 910, T0 + 1820)


def test_no_take_in_the_closing_margin_so_requests_land_in_xs_window(
    table: tuple[Any, str],
) -> None:
    clock = Clock()
    mentions = bucket(table, clock, mentions=Limit(100, 900, 10))
    mentions.take("mentions")

    clock.now = T0 + 889.9
    assert mentions.take("mentions") is not None
    clock.now = T0 + 890
    with pytest.raises(BudgetExhausted) as refused:
        mentions.take("mentions")

    assert refused.value.reset_at == T0 + 910


def test_each_endpoint_has_its_own_bucket_and_unlisted_ones_cost_nothing(
    table: tuple[Any, str],
) -> None:
    clock = Clock()
    budget = bucket(table, clock, mentions=Limit(1, 900, 10), tweets=Limit(2, 900, 10))
    calls = AwsCallCounter(table[0])

    budget.take("mentions")
    budget.take("tweets")
    budget.take("tweets")
    assert budget.take("me") is None

    with pytest.raises(BudgetExhausted):
        budget.take("mentions")
    with pytest.raises(BudgetExhausted):
        budget.take("tweets")
    assert dict(calls.calls) == {"UpdateItem": 2 + 3 + 2}  # a window opens in two calls
    calls.close()


def test_a_zero_budget_refuses_without_opening_a_window(table: tuple[Any, str]) -> None:
    budget = bucket(table, Clock(), mentions=Limit(0, 900, 10))

    with pytest.raises(BudgetExhausted) as refused:
        budget.take("mentions")

    assert refused.value.reset_at == T0 + 900


# --- Contention, against moto's server ---------------------------------------------------


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """moto's server on loopback, as the local stack runs it (one request at a time, like
    DynamoDB's writes to one item), with the app's resources; (DynamoDB client, table)."""
    import boto3

    from local.resources import provision
    from local.stack import atomic_moto_server

    server = atomic_moto_server("127.0.0.1", 0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        env = provision(
            boto3.Session(),
            x_consumer_key=CONSUMER_KEY,
            x_consumer_secret=CONSUMER_SECRET,
            prefix=f"contention-{uuid.uuid4().hex[:8]}",  # moto's state outlives a server
        )
        yield boto3.client("dynamodb"), env["TABLE_NAME"]
    finally:
        server.stop()


def hammer(
    budget: TokenBucket, threads: int, until: float, tokens: tuple[str | None, ...] = (None,)
) -> tuple[list[tuple[str | None, Grant]], int]:
    """`threads` threads take from the bucket as fast as they can until `until`; thread n
    from the bucket of `tokens[n % len(tokens)]` (an account id; None: the app's)."""
    grants: list[tuple[str | None, Grant]] = []
    refused = 0
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(token: str | None) -> None:
        nonlocal refused
        own = budget if token is None else budget.for_account(token)
        start.wait()
        while time.monotonic() < until:
            try:
                grant = own.take("mentions")
            except BudgetExhausted:
                with lock:
                    refused += 1
                continue
            assert grant is not None
            with lock:
                grants.append((token, grant))

    pool = [
        threading.Thread(target=worker, args=(tokens[n % len(tokens)],)) for n in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return grants, refused


def test_eight_threads_never_get_more_than_the_capacity_of_a_window(
    moto_server: tuple[Any, str],
) -> None:
    budget = TokenBucket(*moto_server, {"mentions": Limit(40, 900, 10)}, time.time)

    grants, refused = hammer(budget, threads=8, until=time.monotonic() + 1.0)

    assert len(grants) == 40
    assert sorted(g.taken for _, g in grants) == list(range(1, 41))  # each token once
    assert len({g.window_started_at for _, g in grants}) == 1
    assert refused > 0


def test_eight_threads_on_one_account_token_get_its_capacity_once(
    moto_server: tuple[Any, str],
) -> None:
    budget = TokenBucket(*moto_server, {"mentions": Limit(30, 900, 10)}, time.time)

    grants, refused = hammer(budget, threads=8, until=time.monotonic() + 1.0, tokens=("1001",))

    assert sorted(g.taken for _, g in grants) == list(range(1, 31))
    assert refused > 0


def test_eight_threads_across_four_tokens_get_each_tokens_capacity_and_no_more(
    moto_server: tuple[Any, str],
) -> None:
    budget = TokenBucket(*moto_server, {"mentions": Limit(12, 900, 10)}, time.time)
    tokens = ("1001", "1002", "1003", "1004")

    grants, refused = hammer(budget, threads=8, until=time.monotonic() + 1.5, tokens=tokens)

    by_token: dict[str | None, list[int]] = defaultdict(list)
    for token, grant in grants:
        by_token[token].append(grant.taken)
    assert {token: sorted(taken) for token, taken in by_token.items()} == {
        token: list(range(1, 13)) for token in tokens
    }
    assert refused > 0


def test_eight_threads_across_windows_get_at_most_the_capacity_of_each(
    moto_server: tuple[Any, str],
) -> None:
    budget = TokenBucket(*moto_server, {"mentions": Limit(6, 1, 0)}, time.time)

    grants, _ = hammer(budget, threads=8, until=time.monotonic() + 2.5, tokens=("1001", "1002"))

    for token in ("1001", "1002"):
        by_window: dict[float, list[int]] = defaultdict(list)
        for owner, grant in grants:
            if owner == token:
                by_window[grant.window_started_at].append(grant.taken)
        starts = sorted(by_window)
        assert len(starts) >= 2
        for start in starts:
            assert sorted(by_window[start]) == list(range(1, len(by_window[start]) + 1))
            assert len(by_window[start]) <= 6
        assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(starts))


# --- One bucket per account token ----------------------------------------------------------


def test_each_account_token_has_its_own_bucket_and_the_app_one_of_its_own(
    table: tuple[Any, str],
) -> None:
    # GIVEN X's per-token limit of 2 mention reads a window
    clock = Clock()
    tokens = bucket(table, clock, mentions=Limit(2, 900, 10))
    alice, bob = tokens.for_account("1001"), tokens.for_account("1002")

    # WHEN Alice's token spends its window
    alice.take("mentions")
    alice.take("mentions")
    with pytest.raises(BudgetExhausted) as refused:
        alice.take("mentions")

    # THEN Bob's is whole, and so is the app's (app-only requests only)
    assert refused.value.reset_at == T0 + 910
    assert [bob.take("mentions"), bob.take("mentions")] == [
        Grant("mentions", 1, T0, T0 + 910),
        Grant("mentions", 2, T0, T0 + 910),
    ]
    assert tokens.take("mentions") == Grant("mentions", 1, T0, T0 + 910)
    # AND each is an item of its own, keyed by the account, which DynamoDB's TTL drops later
    items = {
        key: table[0].get_item(TableName=table[1], Key={"pk": {"S": key}})["Item"]
        for key in ("budget#mentions#1001", "budget#mentions#1002", "budget#mentions")
    }
    assert [int(item["taken"]["N"]) for item in items.values()] == [2, 2, 1]
    assert {int(item["expires_at"]["N"]) for item in items.values()} == {int(T0) + 3 * 910}


def test_an_endpoint_x_limits_twice_takes_from_both(table: tuple[Any, str]) -> None:
    # GIVEN full-archive search: 3 a window (300 at X) and 1 a second
    clock = Clock()
    app = bucket(table, clock, search=(Limit(3, 900, 10), Limit(1, 1, 0)))

    # WHEN two takes come within the same second, then one a second later
    first = app.take("search")
    with pytest.raises(BudgetExhausted) as too_soon:
        app.take("search")
    clock.now = T0 + 1
    second = app.take("search")

    # THEN the second waits for the next second, and the window counts only what was sent
    assert too_soon.value.reset_at == T0 + 1
    assert (first, second) == (
        Grant("search", 1, T0, T0 + 910),
        Grant("search", 2, T0, T0 + 910),
    )
    clock.now = T0 + 2
    app.take("search")
    clock.now = T0 + 3
    with pytest.raises(BudgetExhausted) as spent:
        app.take("search")
    assert spent.value.reset_at == T0 + 910


# --- Learning from X's headers ---------------------------------------------------------


def test_x_saying_fewer_remain_than_the_bucket_thinks_is_believed(
    table: tuple[Any, str],
) -> None:
    # GIVEN a token of 300 mention reads a window, 1 taken by us
    clock = Clock()
    alice = bucket(table, clock, mentions=Limit(300, 900, 10)).for_account("1001")
    grant = alice.take("mentions")
    calls = AwsCallCounter(table[0])

    # WHEN X answers that 2 remain (the token is used elsewhere too), its window ending at
    # T0 + 900
    alice.learn("mentions", 2, int(T0) + 900, grant)

    # THEN two more takes are granted and the third refused until X's reset (plus margin)
    assert [g.taken for g in (alice.take("mentions"), alice.take("mentions")) if g] == [299, 300]
    with pytest.raises(BudgetExhausted) as refused:
        alice.take("mentions")
    assert refused.value.reset_at == T0 + 910
    assert calls.calls["UpdateItem"] == 1 + 3
    calls.close()


def test_a_429_on_one_token_closes_its_window_until_xs_reset_and_no_other(
    table: tuple[Any, str],
) -> None:
    # GIVEN two accounts' tokens; X's window for Alice's began 100 s before our first take
    clock = Clock()
    tokens = bucket(table, clock, mentions=Limit(300, 900, 10))
    alice, bob = tokens.for_account("1001"), tokens.for_account("1002")
    grant = alice.take("mentions")
    bob.take("mentions")

    # WHEN X answers Alice's request 429, resetting at T0 + 800
    alice.learn("mentions", 0, int(T0) + 800, grant)

    # THEN Alice's bucket refuses until 10 s after X's reset, then opens a full window
    with pytest.raises(BudgetExhausted) as refused:
        alice.take("mentions")
    assert refused.value.reset_at == T0 + 810
    clock.now = T0 + 810
    assert alice.take("mentions") == Grant("mentions", 1, T0 + 810, T0 + 1720)
    # AND Bob's goes on taking from his own window
    assert bob.take("mentions") == Grant("mentions", 2, T0, T0 + 910)


def test_a_window_x_keeps_later_than_ours_moves_ours_so_none_opens_early(
    table: tuple[Any, str],
) -> None:
    # GIVEN our window opened at T0; X's for the token at T0 + 300 (its other use)
    clock = Clock()
    alice = bucket(table, clock, mentions=Limit(300, 900, 10)).for_account("1001")
    grant = alice.take("mentions")

    # WHEN X says 250 remain, resetting at T0 + 1200
    alice.learn("mentions", 250, int(T0) + 1200, grant)

    # THEN no new window opens at T0 + 910: X's still runs then
    clock.now = T0 + 911
    assert alice.take("mentions") == Grant("mentions", 51, T0 + 300, T0 + 1210)
    clock.now = T0 + 1210
    assert alice.take("mentions") == Grant("mentions", 1, T0 + 1210, T0 + 2120)


def test_when_x_agrees_with_the_bucket_nothing_is_written(table: tuple[Any, str]) -> None:
    # GIVEN a take; X's window began 2 s later, when the request landed
    clock = Clock()
    alice = bucket(table, clock, mentions=Limit(300, 900, 10)).for_account("1001")
    grant = alice.take("mentions")
    calls = AwsCallCounter(table[0])

    # WHEN X says 299 remain until T0 + 902
    alice.learn("mentions", 299, int(T0) + 902, grant)
    # AND an endpoint without a limit, or an answer to no grant, is told anything
    alice.learn("me", 0, int(T0) + 900, grant)
    alice.learn("mentions", 0, int(T0) + 900, None)

    # THEN no call at all
    assert dict(calls.calls) == {}
    calls.close()


def test_learning_never_lowers_what_the_bucket_counts(table: tuple[Any, str]) -> None:
    # GIVEN 5 takes in flight; X has counted only the first when it answers it
    clock = Clock()
    alice = bucket(table, clock, mentions=Limit(6, 900, 10)).for_account("1001")
    grants = [alice.take("mentions") for _ in range(5)]

    # WHEN X's answer to the first (5 remain) arrives after the others were taken, and its
    # window began 30 s after ours
    alice.learn("mentions", 5, int(T0) + 930, grants[0])

    # THEN one take is left, not five, and the window is X's
    assert alice.take("mentions") == Grant("mentions", 6, T0 + 30, T0 + 940)
    with pytest.raises(BudgetExhausted):
        alice.take("mentions")


def test_the_apps_budgets_are_only_for_app_only_endpoints_and_sized_by_settings(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import services
    from chalicelib.budget import COMPLIANCE_JOBS, SEARCH_ALL
    from chalicelib.x_timeline import MENTIONS

    # GIVEN the app may create 2 compliance jobs a window
    monkeypatch.setenv("X_APP_BUDGET_COMPLIANCE_JOBS", "2")
    services.reset()
    app = services.app_budget()

    # WHEN / THEN: two jobs, then a refusal; search once in a second; user reads unbudgeted
    assert [g.taken for g in (app.take(COMPLIANCE_JOBS), app.take(COMPLIANCE_JOBS)) if g] == [1, 2]
    with pytest.raises(BudgetExhausted):
        app.take(COMPLIANCE_JOBS)
    assert app.take(SEARCH_ALL) is not None
    with pytest.raises(BudgetExhausted):
        app.take(SEARCH_ALL)
    assert app.take(MENTIONS) is None  # a user-context read: its token's budget, not this
    # AND a token's budget is X's per-user figure by default: 300 mention reads a window
    tokens = services.x_budget().for_account("1001")
    assert [g.taken for g in (tokens.take(MENTIONS) for _ in range(300)) if g][-1] == 300
    with pytest.raises(BudgetExhausted):
        tokens.take(MENTIONS)
