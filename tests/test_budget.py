"""The fleet's X budget: a DynamoDB bucket per endpoint, taken with conditional UpdateItems.

Window rules with a clock the test moves, in moto in-process; then contention: threads
taking from one bucket at once, through moto's server over HTTP, as Lambdas would."""

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


def bucket(table: tuple[Any, str], clock: Clock, **limits: Limit) -> TokenBucket:
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


def hammer(budget: TokenBucket, threads: int, until: float) -> tuple[list[Grant], int]:
    """`threads` threads take from the bucket as fast as they can until `until`."""
    grants: list[Grant] = []
    refused = 0
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        nonlocal refused
        start.wait()
        while time.monotonic() < until:
            try:
                grant = budget.take("mentions")
            except BudgetExhausted:
                with lock:
                    refused += 1
                continue
            assert grant is not None
            with lock:
                grants.append(grant)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
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
    assert sorted(g.taken for g in grants) == list(range(1, 41))  # each token once
    assert len({g.window_started_at for g in grants}) == 1
    assert refused > 0


def test_eight_threads_across_windows_get_at_most_the_capacity_of_each(
    moto_server: tuple[Any, str],
) -> None:
    budget = TokenBucket(*moto_server, {"mentions": Limit(6, 1, 0)}, time.time)

    grants, _ = hammer(budget, threads=8, until=time.monotonic() + 2.5)

    by_window: dict[float, list[int]] = defaultdict(list)
    for grant in grants:
        by_window[grant.window_started_at].append(grant.taken)
    starts = sorted(by_window)
    assert len(starts) >= 2
    for start in starts:
        assert sorted(by_window[start]) == list(range(1, len(by_window[start]) + 1))
        assert len(by_window[start]) <= 6
    assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(starts))
