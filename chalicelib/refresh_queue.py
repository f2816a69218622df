"""The refresh queue in SQS: one message per account due for a refresh.

Messages are `{"account_id": "<X user id>"}`: a worker reads everything else (tokens, the
time of the last report) when it runs, so a message never carries a secret or stale state.
`{"account_id": ..., "purge": true}` is a forget's second delete, sent with a delay longer
than any writer that read the account before the forget can still be running.
`{"account_id": ..., "history": 3}` reads the next page of the account's older history
(history.py), the fourth: a message whose page is not the one the archive is at is a
duplicate, and does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import aws_call

BATCH_LIMIT = 10  # SendMessageBatch takes at most ten entries
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit for ChangeMessageVisibility
MAX_DELAY_SECONDS = 900  # SQS's limit for a message's DelaySeconds


@dataclass
class Sent:
    """What one SendMessageBatch did: SQS may refuse some entries and take the others."""

    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Message:
    account_id: str
    purge: bool = False  # delete the account's folder if the account is gone; no refresh
    history: int | None = None  # read this page (pages read so far) of older history


def message_body(account_id: str, *, purge: bool = False, history: int | None = None) -> str:
    value: dict[str, Any] = {"account_id": account_id}
    if purge:
        value["purge"] = True
    if history is not None:
        value["history"] = history
    return json.dumps(value, separators=(",", ":"))


def message_of(body: str) -> Message:
    """What a message asks; ValueError when the body is not one of ours."""
    value = json.loads(body)
    account_id = value.get("account_id") if isinstance(value, dict) else None
    if not isinstance(account_id, str) or not account_id.isdigit():
        raise ValueError("not a refresh message")
    page = value.get("history")
    if page is not None and (type(page) is not int or page < 0):
        raise ValueError("not a refresh message")
    return Message(account_id, purge=value.get("purge") is True, history=page)


def account_of(body: str) -> str:
    """The account a message names; ValueError when the body is not one of ours."""
    return message_of(body).account_id


def process_batch(
    event: dict[str, Any], handle: Callable[[Any], object], context: Any = None
) -> dict[str, Any]:
    """An SQS event, each message to `handle` (a Powertools SQSRecord; it raises to keep the
    message queued), under Powertools' BatchProcessor. The Lambda answer:
    {"batchItemFailures": [...]} naming the messages to keep. Every message failing is an
    answer too (all handed back when the budget is spent), not an error of the invocation.
    """
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    answer = process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
    return dict(answer)


def send_batch(sqs: Any, queue_url: str, bodies: Sequence[str]) -> set[int]:
    """One SendMessageBatch of up to ten bodies; the indexes of those SQS refused."""
    if not 0 < len(bodies) <= BATCH_LIMIT:
        raise ValueError(f"a batch holds 1 to {BATCH_LIMIT} messages")
    entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
    with aws_call("SQS SendMessageBatch"):
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    return {int(entry["Id"]) for entry in answer.get("Failed", [])}


def send_one(sqs: Any, queue_url: str, body: str, delay_seconds: int) -> None:
    """One message, delivered after `delay_seconds` (at most SQS's 15 minutes)."""
    delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
    with aws_call("SQS SendMessage"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body, DelaySeconds=delay)


class RefreshQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, account_ids: Sequence[str]) -> Sent:
        """One SendMessageBatch of up to ten accounts."""
        failed = send_batch(self._sqs, self._url, [message_body(a) for a in account_ids])
        return Sent(
            queued=[a for i, a in enumerate(account_ids) if i not in failed],
            failed=[a for i, a in enumerate(account_ids) if i in failed],
        )

    def send_later(
        self,
        account_id: str,
        *,
        delay_seconds: int,
        purge: bool = False,
        history: int | None = None,
    ) -> None:
        """One message, delivered after `delay_seconds` (at most SQS's 15 minutes)."""
        body = message_body(account_id, purge=purge, history=history)
        send_one(self._sqs, self._url, body, delay_seconds)

    def hand_back(self, receipt_handle: str, delay_seconds: int) -> int:
        """Make a received message invisible for `delay_seconds` (capped at SQS's 12 hours)
        instead of deleting it: it comes back then, to a worker with budget. Returns the
        delay set."""
        delay = max(0, min(int(delay_seconds), MAX_VISIBILITY_SECONDS))
        with aws_call("SQS ChangeMessageVisibility"):
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
            )
        return delay
