"""What X's `x-rate-limit-*` headers say, as x_http reads them for the budget: whole numbers
or nothing (a header missing or garbled teaches the bucket nothing). GIVEN / WHEN / THEN."""

from __future__ import annotations

import pytest

from chalicelib.x_http import RateLimitSeen, XApiSession, last_rate_limit, rate_limit_of


def test_remaining_and_reset_are_read_from_xs_headers() -> None:
    headers = {
        "x-rate-limit-limit": "300",
        "x-rate-limit-remaining": "297",
        "x-rate-limit-reset": "1800000900",
    }

    assert rate_limit_of(headers) == RateLimitSeen(remaining=297, reset_at=1_800_000_900)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-rate-limit-remaining": "3"},
        {"x-rate-limit-reset": "1800000900"},
        {"x-rate-limit-remaining": "-1", "x-rate-limit-reset": "1800000900"},
        {"x-rate-limit-remaining": "3", "x-rate-limit-reset": "soon"},
    ],
)
def test_headers_missing_or_not_whole_numbers_say_nothing(headers: dict[str, str]) -> None:
    assert rate_limit_of(headers) is None


def test_a_client_whose_session_saw_no_answer_says_nothing() -> None:
    class Client:
        session = XApiSession("http://127.0.0.1:9", 1.0)

    assert last_rate_limit(Client()) is None
    assert last_rate_limit(object()) is None
