"""Accounts in the DynamoDB table that also holds the sessions (sessions.py).

Items `account#<X user id>`: the handle, the account's X tokens (encrypted), the report
settings the person saved (`report_settings`, a map of setting name -> text, as typed into
the settings form and checked by report_settings.saved_form), and the marks other features
set (`report_refreshed_at`, `token_rejected_at`, `forgetting_at`, `refresh_asked_at`: the
last press of "Refresh now").

`generation` is a random value the account gets when it is created, and loses the moment a
forget begins (`forgetting_at` is set): every writer of the account's S3 objects read it
with the tokens, and confirms it after writing (`confirm_written`). A writer that finds it
changed wrote for an account that was forgotten meanwhile, and deletes what it wrote: no
refresh in flight can bring a forgotten account's data back.

The sparse index `refresh-due` lists account items by `refresh_group` (one constant) and
`report_refreshed_at` (epoch seconds of the last stored report, 0 before the first). The
schedule asks it for the accounts whose report is older than the max age, oldest first,
never with a Scan. One partition is plenty: the X budget lets the fleet refresh about one
account every two seconds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ConditionFailed, StoreUnavailable, aws_call
from chalicelib.tokens import TokenCipher

REFRESH_DUE_INDEX = "refresh-due"
BATCH_GET_LIMIT = 100  # BatchGetItem takes at most 100 keys
BATCH_GET_ATTEMPTS = 5  # DynamoDB may leave keys unprocessed under load: ask again
REFRESH_GROUP = "accounts"


@dataclass(frozen=True)
class AccountTokens:
    account_id: str
    username: str
    access_token: str
    access_token_secret: str
    refreshed_at: int = 0  # epoch seconds of the last stored report; 0: none yet
    saved_settings: Mapping[str, str] = field(default_factory=dict)  # report_settings
    generation: str = ""  # see the module's docstring ("": an item older than generations)
    # A forget began and failed part-way: pages still work, so she can ask again (what they
    # write is deleted again, the generation being gone), the schedule skips the account,
    # and the sweep finishes the forget after an hour.
    forgetting: bool = False


@dataclass(frozen=True)
class DueAccount:
    """An account the `refresh-due` index lists as due, as the schedule sees it."""

    account_id: str
    refreshed_at: int
    token_rejected: bool


def account_key(account_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"account#{account_id}"}}


class AccountStore:
    """The account items: what sign-in saves, what reports and the schedule read and mark,
    and what a forget deletes."""

    def __init__(self, dynamodb: Any, table_name: str, cipher: TokenCipher) -> None:
        self._db = dynamodb
        self._table = table_name
        self._cipher = cipher

    def save(
        self, account_id: str, username: str, access_token: str, access_token_secret: str, now: int
    ) -> None:
        """Keep what other features stored on the account; clear a mark of rejected tokens."""
        with aws_call("DynamoDB UpdateItem"):
            self._db.update_item(
                TableName=self._table,
                Key=account_key(account_id),
                UpdateExpression=(
                    "SET kind = :account, account_id = :id, username = :username, "
                    "access_token = :token, access_token_secret = :secret, signed_in_at = :now, "
                    "refresh_group = :group, "
                    "report_refreshed_at = if_not_exists(report_refreshed_at, :never), "
                    "generation = if_not_exists(generation, :generation) "
                    "REMOVE token_rejected_at, forgetting_at"
                ),
                ExpressionAttributeValues={
                    ":account": {"S": "account"},
                    ":id": {"S": account_id},
                    ":username": {"S": username},
                    ":token": {"S": self._cipher.encrypt(access_token)},
                    ":secret": {"S": self._cipher.encrypt(access_token_secret)},
                    ":now": {"N": str(now)},
                    ":group": {"S": REFRESH_GROUP},
                    ":never": {"N": "0"},
                    ":generation": {"S": secrets.token_hex(8)},
                },
            )

    def begin_forget(self, account_id: str, now: int) -> AccountTokens | None:
        """The first step of a forget: from now on no writer in flight can confirm what it
        writes (the generation is gone) and the schedule skips the account. Returns the
        tokens, to revoke at X once everything is deleted (None: no account, or X had
        already rejected them). A forget asked again after a failure finds them again."""
        try:
            with aws_call("DynamoDB UpdateItem"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=account_key(account_id),
                    UpdateExpression="SET forgetting_at = :now REMOVE generation",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                    ReturnValues="ALL_OLD",
                )
        except ConditionFailed:
            return None
        item = answer.get("Attributes") or {}
        if "access_token" not in item or "token_rejected_at" in item:
            return None
        return self._tokens(account_id, item)

    def forget(self, account_id: str) -> None:
        """Delete the account item, its tokens with it (the last step of a forget)."""
        with aws_call("DynamoDB DeleteItem"):
            self._db.delete_item(TableName=self._table, Key=account_key(account_id))

    def account_tokens(self, account_id: str) -> AccountTokens | None:
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(TableName=self._table, Key=account_key(account_id)).get("Item")
        if item is None or "access_token" not in item:
            return None
        if "token_rejected_at" in item:
            return None
        return self._tokens(account_id, item)

    def _tokens(self, account_id: str, item: Mapping[str, Any]) -> AccountTokens:
        return AccountTokens(
            account_id=account_id,
            username=item["username"]["S"],
            access_token=self._cipher.decrypt(item["access_token"]["S"]),
            access_token_secret=self._cipher.decrypt(item["access_token_secret"]["S"]),
            refreshed_at=int(item.get("report_refreshed_at", {}).get("N", 0)),
            saved_settings={
                name: value["S"]
                for name, value in item.get("report_settings", {}).get("M", {}).items()
                if "S" in value
            },
            generation=item.get("generation", {}).get("S", ""),
            forgetting="forgetting_at" in item,
        )

    def confirm_written(self, account: AccountTokens, refreshed_at: int | None = None) -> bool:
        """After writing the account's S3 objects: whether the account is still the one the
        writer read (not forgotten, not signed in anew since), with a strongly consistent
        read, so a forget that began before it is seen. With `refreshed_at`, a refresh's
        report was stored: the same check is the condition of marking it
        (`report_refreshed_at`), one UpdateItem for both."""
        same = self._same_generation(account.generation)
        if refreshed_at is not None:
            return self._update_account(
                account.account_id,
                UpdateExpression="SET report_refreshed_at = :value",
                ConditionExpression=same,
                **self._generation_values(account.generation, {":value": {"N": str(refreshed_at)}}),
            )
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(
                TableName=self._table,
                Key=account_key(account.account_id),
                ConsistentRead=True,
                ProjectionExpression="pk, generation, forgetting_at",
            ).get("Item")
        return (
            item is not None
            and "forgetting_at" not in item
            and item.get("generation", {}).get("S", "") == account.generation
        )

    def forgotten_among(self, account_ids: list[str]) -> dict[str, int | None]:
        """Which of these accounts are gone or being forgotten, with the epoch seconds the
        forget began (None: no item at all); strongly consistent, 100 to a BatchGetItem."""
        forgotten: dict[str, int | None] = dict.fromkeys(account_ids)
        for start in range(0, len(account_ids), BATCH_GET_LIMIT):
            for item in self._batch_get(account_ids[start : start + BATCH_GET_LIMIT]):
                account_id = item["pk"]["S"].removeprefix("account#")
                if "forgetting_at" in item:
                    forgotten[account_id] = int(item["forgetting_at"]["N"])
                else:
                    forgotten.pop(account_id, None)
        return forgotten

    def _batch_get(self, account_ids: list[str]) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            self._table: {
                "Keys": [account_key(account_id) for account_id in account_ids],
                "ProjectionExpression": "pk, forgetting_at",
                "ConsistentRead": True,
            }
        }
        for _ in range(BATCH_GET_ATTEMPTS):
            with aws_call("DynamoDB BatchGetItem"):
                answer = self._db.batch_get_item(RequestItems=request)
            yield from answer.get("Responses", {}).get(self._table, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return
        raise StoreUnavailable("DynamoDB BatchGetItem failed: keys left unprocessed")

    @staticmethod
    def _same_generation(generation: str) -> str:
        if not generation:  # an item from before generations: no forget has begun on it
            return (
                "attribute_exists(pk) AND attribute_not_exists(generation)"
                " AND attribute_not_exists(forgetting_at)"
            )
        return "generation = :generation"

    @staticmethod
    def _generation_values(generation: str, values: dict[str, Any]) -> dict[str, Any]:
        if generation:
            values = {**values, ":generation": {"S": generation}}
        return {"ExpressionAttributeValues": values}

    def save_settings(self, account_id: str, values: Mapping[str, str]) -> bool:
        """Keep the person's report settings on her account (none: the defaults apply);
        False when the account was forgotten meanwhile (nothing is created for it)."""
        if not values:
            return self._update_account(account_id, UpdateExpression="REMOVE report_settings")
        return self._update_account(
            account_id,
            UpdateExpression="SET report_settings = :settings",
            ExpressionAttributeValues={
                ":settings": {"M": {name: {"S": text} for name, text in values.items()}}
            },
        )

    def claim_refresh_now(self, account_id: str, now: int, interval_seconds: int) -> bool:
        """The person pressed "Refresh now": True when her last press was `interval_seconds`
        ago or more (the press is noted, one conditional UpdateItem); False when it was
        sooner, or the account is gone. Keeps one person from spending the fleet's budget."""
        return self._update_account(
            account_id,
            UpdateExpression="SET refresh_asked_at = :now",
            ConditionExpression=(
                "attribute_exists(pk) AND "
                "(attribute_not_exists(refresh_asked_at) OR refresh_asked_at <= :before)"
            ),
            ExpressionAttributeValues={
                ":now": {"N": str(now)},
                ":before": {"N": str(now - interval_seconds)},
            },
        )

    def mark_token_rejected(self, account_id: str, now: int) -> bool:
        """X answered 401 for this account: no page or refresh uses its token again until
        the person signs in anew (save_account clears the mark). True when the account
        still exists; the caller then ends every session signed in to it
        (SessionStore.end_account_sessions)."""
        return self._set_on_account(account_id, "token_rejected_at", now)

    def mark_refreshed(self, account_id: str, at: int) -> None:
        """A report was stored for the account: it leaves the due range of `refresh-due`
        until it is older than the max age. An account deleted meanwhile stays deleted."""
        self._set_on_account(account_id, "report_refreshed_at", at)

    def _set_on_account(self, account_id: str, attribute: str, value: int) -> bool:
        """Set a number on the account item, if the account still exists (never create a
        half item for one that was forgotten meanwhile); False when it does not."""
        return self._update_account(
            account_id,
            UpdateExpression="SET #attribute = :value",
            ExpressionAttributeNames={"#attribute": attribute},
            ExpressionAttributeValues={":value": {"N": str(value)}},
        )

    def _update_account(self, account_id: str, **update: Any) -> bool:
        """One UpdateItem on the account item if it still exists (or if `update` names its
        own ConditionExpression, if that holds); False when it does not."""
        update.setdefault("ConditionExpression", "attribute_exists(pk)")
        try:
            with aws_call("DynamoDB UpdateItem"):
                self._db.update_item(TableName=self._table, Key=account_key(account_id), **update)
        except ConditionFailed:
            return False
        return True


class AccountIndex:
    """The `refresh-due` index: all the schedule reads. It needs no key to any token."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def due(self, refreshed_by: int) -> Iterator[DueAccount]:
        """Accounts whose last report was stored at `refreshed_by` or before (or never),
        oldest first, a Query page (up to 1 MB of index) at a time. Accounts whose token X
        rejected are listed too, marked, so the schedule can count what it skips."""
        with aws_call("DynamoDB Query"):
            pages = self._db.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=REFRESH_DUE_INDEX,
                KeyConditionExpression="refresh_group = :group AND report_refreshed_at <= :by",
                ExpressionAttributeValues={
                    ":group": {"S": REFRESH_GROUP},
                    ":by": {"N": str(refreshed_by)},
                },
            )
            for page in pages:
                for item in page["Items"]:
                    yield DueAccount(
                        account_id=item["pk"]["S"].removeprefix("account#"),
                        refreshed_at=int(item["report_refreshed_at"]["N"]),
                        token_rejected="token_rejected_at" in item,
                    )
