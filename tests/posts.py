"""Posts as X API v2 sends them, for the analytics' unit tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

ACCOUNT = "100"


def iso(moment: datetime) -> str:
    """X's format: 2026-11-28T15:05:14.000Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def mention(pid: str, at: datetime, author: str = "200", text: str = "hi", **extra: Any) -> dict:
    return {"id": pid, "text": text, "created_at": iso(at), "author_id": author, **extra}


def reply(
    pid: str, to: str, at: datetime, author: str | None = ACCOUNT, text: str = "thanks!"
) -> dict:
    post = {
        "id": pid,
        "text": text,
        "created_at": iso(at),
        "referenced_tweets": [{"type": "replied_to", "id": to}],
    }
    if author is not None:
        post["author_id"] = author
    return post
