"""What X bills, hand-computed: the price of posts (owned or not), how dollars are written,
the month X bills by, and the account's count in DynamoDB (moto) across a month's turn."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.x_bill import Prices, dollars, month_end, month_of


def test_posts_cost_the_post_price_or_the_owned_one() -> None:
    prices = Prices(owned_accounts=frozenset({"42"}))
    assert prices.posts("7", 385) == Decimal("1.925")
    assert prices.posts("42", 385) == Decimal("0.385")
    assert prices.posts("7", 0) == 0


def test_dollars_are_written_to_the_cent_rounding_a_half_cent_up() -> None:
    assert dollars(Decimal("1.925")) == "$1.93"
    assert dollars(0.385) == "$0.39"
    assert dollars(0) == "$0.00"
    assert dollars(0.004) == "under $0.01"
    assert dollars(Decimal("12000")) == "$12,000.00"


def test_x_bills_by_the_utc_month() -> None:
    assert month_of(1798761599) == "2026-12"  # 2026-12-31 23:59:59 UTC
    assert month_of(1798761600) == "2027-01"
    # ... and a month ends where the next begins, December's with the year
    assert month_end(1798761599) == month_end(1796083200) == 1798761600
    assert month_end(1798761600) == 1801440000  # 2027-02-01 00:00:00 UTC


def test_prices_are_settings_and_a_bad_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import config

    settings = config.settings.__wrapped__  # read afresh each time, not the cached one
    monkeypatch.setenv("X_PRICE_POST_READ", "0.004")
    monkeypatch.setenv("X_OWNED_ACCOUNT_IDS", " 1, 2 ,")
    prices = settings().x_prices
    assert (prices.post_read, prices.owned_read) == (Decimal("0.004"), Decimal("0.001"))
    assert prices.owned_accounts == frozenset({"1", "2"})
    for bad in ("-1", "five", "NaN"):
        monkeypatch.setenv("X_PRICE_POST_READ", bad)
        with pytest.raises(ValueError, match="X_PRICE_POST_READ"):
            settings()


@pytest.fixture
def store(aws: dict[str, str]) -> Iterator[Any]:
    import boto3

    from chalicelib import services

    db = boto3.client("dynamodb")
    db.put_item(
        TableName=aws["TABLE_NAME"],
        Item={"pk": {"S": "account#7"}, "username": {"S": "acme"}},
    )
    yield services.account_store()


def test_the_accounts_count_starts_afresh_each_month_and_keeps_the_total(
    store: Any, aws: dict[str, str]
) -> None:
    import boto3

    assert store.add_x_cost("7", "2026-11", 10, Decimal("0.050"))
    assert store.add_x_cost("7", "2026-11", 5, Decimal("0.025"))
    assert store.add_x_cost("7", "2026-12", 2, Decimal("0.010"))

    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": "account#7"}}
    )["Item"]
    assert item["x_month"] == {"S": "2026-12"}
    assert (item["x_month_posts"], item["x_month_usd"]) == ({"N": "2"}, {"N": "0.010"})
    assert (item["x_posts_billed"], item["x_usd_billed"]) == ({"N": "17"}, {"N": "0.085"})


def test_a_gone_account_gets_no_count_and_no_item(store: Any, aws: dict[str, str]) -> None:
    import boto3

    assert store.add_x_cost("8", "2026-12", 2, Decimal("0.010")) is False
    assert "Item" not in boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": "account#8"}}
    )
