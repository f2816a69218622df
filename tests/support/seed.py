"""Signed-in accounts for tests and benchmarks that run the app through Chalice's test
client against the X emulator."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any


def sign_in_accounts(
    client: Any,
    emulator: Any,
    usernames: Iterable[str],
    *,
    mentions: int = 0,
    answered: int = 0,
    start: datetime | None = None,
) -> list[str]:
    """Each username made an account at the X emulator and signed in through the real flow
    (GET /auth, the person's click on the emulator's authorize page, GET /callback).

    With `mentions`, a fan of its own (``<username>_fan``) mentions it that many times, one
    an hour from `start` (default: three days ago), and the account answers the first
    `answered` of them five minutes later. Returns the account ids, in order."""
    from tests.browser import Browser

    start = start or datetime.now(UTC) - timedelta(days=3)
    ids = []
    for username in usernames:
        account_id = emulator.add_account(username)
        fan = emulator.add_account(f"{username}_fan") if mentions else ""
        for i in range(mentions):
            at = start + timedelta(hours=i)
            mention = emulator.add_post(fan, f"@{username} hello {i}", at, mentions=[account_id])
            if i < answered:
                emulator.add_post(
                    account_id, "@fan hi", at + timedelta(minutes=5), reply_to=mention
                )
        answer = Browser(client).sign_in(username)
        assert answer.status_code == 302, answer.body
        ids.append(account_id)
    return ids
