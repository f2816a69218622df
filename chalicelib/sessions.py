"""Sessions and accounts in one DynamoDB table.

Items (partition key `pk`):
- `session#<sha256 of the session id>`: kind `pending` (a sign-in under way: the request
  token and its encrypted secret) or kind `session` (a signed-in browser: the account id).
  Only a hash of the id is stored, so a copy of the table signs no one in.
- `account#<X user id>`: the handle, the account's X tokens (encrypted) and the report
  settings the person saved (`report_settings`, a map of setting name -> text, as typed
  into the settings form and checked by report_settings.saved_form).
`expires_at` (epoch seconds) is checked on every read; DynamoDB's TTL only cleans up later.

Two sparse indexes, so that no path ever Scans the table:
- `refresh-due`: account items by `refresh_group` (one constant) and `report_refreshed_at`
  (epoch seconds of the last stored report, 0 before the first). The schedule asks it for
  the accounts whose report is older than the max age, oldest first. One partition is
  plenty: the X budget lets the fleet refresh about one account every two seconds.
- `sessions-by-account`: session items by `session_account_id`, to end every session of an
  account whose token X rejects.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import (
    SignInExpired,
    StoreUnavailable,
    conditional_check_failed,
    store_failed,
)
from chalicelib.tokens import TokenCipher


@dataclass(frozen=True)
class PendingLogin:
    request_token: str
    request_token_secret: str


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    account_id: str
    username: str
    expires_at: int


@dataclass(frozen=True)
class AccountTokens:
    account_id: str
    username: str
    access_token: str
    access_token_secret: str
    refreshed_at: int = 0  # epoch seconds of the last stored report; 0: none yet
    saved_settings: Mapping[str, str] = field(default_factory=dict)  # report_settings


@dataclass(frozen=True)
class DueAccount:
    """An account the `refresh-due` index lists as due, as the schedule sees it."""

    account_id: str
    refreshed_at: int
    token_rejected: bool


REFRESH_DUE_INDEX = "refresh-due"
REFRESH_GROUP = "accounts"
SESSIONS_BY_ACCOUNT_INDEX = "sessions-by-account"
BATCH_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class Lifetimes:
    pending_seconds: int
    idle_seconds: int
    absolute_seconds: int


def _session_key(session_id: str) -> dict[str, Any]:
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    return {"pk": {"S": f"session#{digest}"}}


def account_key(account_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"account#{account_id}"}}


def new_session_id() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


class SessionStore:
    def __init__(
        self, dynamodb: Any, table_name: str, cipher: TokenCipher, lifetimes: Lifetimes
    ) -> None:
        self._db = dynamodb
        self._table = table_name
        self._cipher = cipher
        self._lifetimes = lifetimes

    def start_pending(self, request_token: str, request_token_secret: str, now: int) -> str:
        session_id = new_session_id()
        item = {
            **_session_key(session_id),
            "kind": {"S": "pending"},
            "request_token": {"S": request_token},
            "request_token_secret": {"S": self._cipher.encrypt(request_token_secret)},
            "expires_at": {"N": str(now + self._lifetimes.pending_seconds)},
        }
        try:
            self._db.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB PutItem", error) from error
        return session_id

    def consume_pending(self, session_id: str, now: int) -> PendingLogin:
        """Take the pending login once: a second use, or a late one, finds nothing."""
        try:
            answer = self._db.delete_item(
                TableName=self._table,
                Key=_session_key(session_id),
                ConditionExpression="kind = :pending",
                ExpressionAttributeValues={":pending": {"S": "pending"}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if conditional_check_failed(error):
                raise SignInExpired("no pending login for this session") from error
            raise store_failed("DynamoDB DeleteItem", error) from error
        except BotoCoreError as error:
            raise store_failed("DynamoDB DeleteItem", error) from error
        item = answer["Attributes"]
        if int(item["expires_at"]["N"]) <= now:
            raise SignInExpired("the pending login expired")
        return PendingLogin(
            request_token=item["request_token"]["S"],
            request_token_secret=self._cipher.decrypt(item["request_token_secret"]["S"]),
        )

    def save_account(
        self, account_id: str, username: str, access_token: str, access_token_secret: str, now: int
    ) -> None:
        """Keep what other features stored on the account; clear a mark of rejected tokens."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=account_key(account_id),
                UpdateExpression=(
                    "SET kind = :account, account_id = :id, username = :username, "
                    "access_token = :token, access_token_secret = :secret, signed_in_at = :now, "
                    "refresh_group = :group, "
                    "report_refreshed_at = if_not_exists(report_refreshed_at, :never) "
                    "REMOVE token_rejected_at"
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
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB UpdateItem", error) from error

    def start_session(self, account_id: str, username: str, now: int) -> SignedIn:
        session_id = new_session_id()
        expires_at = now + min(self._lifetimes.idle_seconds, self._lifetimes.absolute_seconds)
        item = {
            **_session_key(session_id),
            "kind": {"S": "session"},
            "account_id": {"S": account_id},
            "session_account_id": {"S": account_id},  # the key of `sessions-by-account`
            "username": {"S": username},
            "created_at": {"N": str(now)},
            "expires_at": {"N": str(expires_at)},
        }
        try:
            self._db.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB PutItem", error) from error
        return SignedIn(session_id, account_id, username, expires_at)

    def signed_in(self, session_id: str, now: int) -> SignedIn | None:
        """The live session for this id, or None. Extends the idle limit now and then."""
        try:
            item = self._db.get_item(TableName=self._table, Key=_session_key(session_id)).get(
                "Item"
            )
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB GetItem", error) from error
        if item is None or item["kind"]["S"] != "session":
            return None
        expires_at = int(item["expires_at"]["N"])
        if expires_at <= now:
            return None
        session = SignedIn(session_id, item["account_id"]["S"], item["username"]["S"], expires_at)
        return self._extend(session, int(item["created_at"]["N"]), now)

    def _extend(self, session: SignedIn, created_at: int, now: int) -> SignedIn:
        """Slide the idle limit, capped by the absolute one; one write a tenth of the idle time
        at most, so a busy reader costs reads, not writes."""
        limits = self._lifetimes
        wanted = min(now + limits.idle_seconds, created_at + limits.absolute_seconds)
        if wanted - session.expires_at < max(limits.idle_seconds // 10, 1):
            return session
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_session_key(session.session_id),
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression="kind = :session",
                ExpressionAttributeValues={
                    ":expires": {"N": str(wanted)},
                    ":session": {"S": "session"},
                },
            )
        except ClientError as error:
            if conditional_check_failed(error):
                return session  # signed out meanwhile: this request still ends normally
            raise store_failed("DynamoDB UpdateItem", error) from error
        return SignedIn(session.session_id, session.account_id, session.username, wanted)

    def end_session(self, session_id: str) -> None:
        try:
            self._db.delete_item(TableName=self._table, Key=_session_key(session_id))
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB DeleteItem", error) from error

    def forget_account(self, account_id: str) -> None:
        """Delete the account item, its tokens with it."""
        try:
            self._db.delete_item(TableName=self._table, Key=account_key(account_id))
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB DeleteItem", error) from error

    def account_tokens(self, account_id: str) -> AccountTokens | None:
        try:
            item = self._db.get_item(TableName=self._table, Key=account_key(account_id)).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB GetItem", error) from error
        if item is None or "access_token" not in item or "token_rejected_at" in item:
            return None
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
        )

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

    def mark_token_rejected(self, account_id: str, now: int) -> None:
        """X answered 401 for this account: no page or refresh uses its token again until
        the person signs in anew (save_account clears the mark), and every browser signed
        in to it is signed out."""
        if self._set_on_account(account_id, "token_rejected_at", now):
            self.end_account_sessions(account_id)

    def end_account_sessions(self, account_id: str) -> int:
        """Delete every session of the account (found through `sessions-by-account`);
        returns how many there were."""
        keys: list[dict[str, Any]] = []
        try:
            pages = self._db.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=SESSIONS_BY_ACCOUNT_INDEX,
                KeyConditionExpression="session_account_id = :id",
                ExpressionAttributeValues={":id": {"S": account_id}},
            )
            for page in pages:
                keys.extend({"pk": item["pk"]} for item in page["Items"])
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB Query", error) from error
        for start in range(0, len(keys), 25):
            self._delete_all(keys[start : start + 25])
        return len(keys)

    def _delete_all(self, keys: list[dict[str, Any]]) -> None:
        requests = [{"DeleteRequest": {"Key": key}} for key in keys]
        for _ in range(BATCH_WRITE_ATTEMPTS):
            try:
                answer = self._db.batch_write_item(RequestItems={self._table: requests})
            except (ClientError, BotoCoreError) as error:
                raise store_failed("DynamoDB BatchWriteItem", error) from error
            requests = answer.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
        raise StoreUnavailable("DynamoDB BatchWriteItem left sessions undeleted")

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
        """One UpdateItem on the account item if it still exists; False when it does not."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=account_key(account_id),
                ConditionExpression="attribute_exists(pk)",
                **update,
            )
        except ClientError as error:
            if conditional_check_failed(error):
                return False
            raise store_failed("DynamoDB UpdateItem", error) from error
        except BotoCoreError as error:
            raise store_failed("DynamoDB UpdateItem", error) from error
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
        try:
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
        except (ClientError, BotoCoreError) as error:
            raise store_failed("DynamoDB Query", error) from error
