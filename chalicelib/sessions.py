"""Pending logins and sessions in DynamoDB (the account items of the same table are
accounts.py's).

Items `session#<sha256 of the session id>`: kind `pending` (a sign-in under way: over
OAuth 1.0a the request token and its encrypted secret; over OAuth 2.0, `sign_in` oauth2,
the `state` and the PKCE code verifier, both encrypted, and a hash of the state, which a
cancel names) or kind `session` (a signed-in browser: the account id). Only a hash of the
id is stored, so a copy of the table signs no one in. `expires_at` (epoch seconds) is
checked on every read; DynamoDB's TTL only cleans up later.

The sparse index `sessions-by-account` lists session items by `session_account_id`, to end
every session of an account that is forgotten or whose token X rejects (never a Scan).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib.config import OAUTH1, OAUTH2
from chalicelib.errors import ConditionFailed, SignInExpired, StoreUnavailable, aws_call
from chalicelib.tokens import TokenCipher


@dataclass(frozen=True)
class PendingLogin:
    request_token: str = ""  # OAuth 1.0a
    request_token_secret: str = ""
    sign_in: str = OAUTH1
    state: str = ""  # OAuth 2.0
    code_verifier: str = ""


def state_hash(state: str) -> str:
    """What the table keeps of a state in the clear: enough for a cancel's condition."""
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    account_id: str
    username: str
    expires_at: int


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
        """An OAuth 1.0a sign-in under way; returns its new session id."""
        return self._put_pending(
            {
                "request_token": {"S": request_token},
                "request_token_secret": {"S": self._cipher.encrypt(request_token_secret)},
            },
            now,
        )

    def start_pending_oauth2(self, state: str, code_verifier: str, now: int) -> str:
        """An OAuth 2.0 sign-in under way: what the callback is checked against and what
        the code is exchanged with, kept here, never in a handler object."""
        return self._put_pending(
            {
                "sign_in": {"S": OAUTH2},
                "state": {"S": self._cipher.encrypt(state)},
                "state_hash": {"S": state_hash(state)},
                "code_verifier": {"S": self._cipher.encrypt(code_verifier)},
            },
            now,
        )

    def _put_pending(self, values: dict[str, Any], now: int) -> str:
        session_id = new_session_id()
        item = {
            **_session_key(session_id),
            "kind": {"S": "pending"},
            **values,
            "expires_at": {"N": str(now + self._lifetimes.pending_seconds)},
        }
        with aws_call("DynamoDB PutItem"):
            self._db.put_item(TableName=self._table, Item=item)
        return session_id

    def consume_pending(
        self,
        session_id: str,
        now: int,
        request_token: str | None = None,
        *,
        state: str | None = None,
    ) -> PendingLogin:
        """Take the pending login once: a second use, or a late one, finds nothing. With
        `request_token` (OAuth 1.0a) or `state` (OAuth 2.0), only the pending login of that
        value is taken (a cancel names it: a link with any other value leaves the sign-in
        under way alone)."""
        condition, values = "kind = :pending", {":pending": {"S": "pending"}}
        if request_token is not None:
            condition += " AND request_token = :token"
            values[":token"] = {"S": request_token}
        if state is not None:
            condition += " AND state_hash = :state"
            values[":state"] = {"S": state_hash(state)}
        try:
            with aws_call("DynamoDB DeleteItem"):
                answer = self._db.delete_item(
                    TableName=self._table,
                    Key=_session_key(session_id),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_OLD",
                )
        except ConditionFailed as error:
            raise SignInExpired("no pending login for this session") from error
        item = answer["Attributes"]
        if int(item["expires_at"]["N"]) <= now:
            raise SignInExpired("the pending login expired")
        if item.get("sign_in", {}).get("S") == OAUTH2:
            return PendingLogin(
                sign_in=OAUTH2,
                state=self._cipher.decrypt(item["state"]["S"]),
                code_verifier=self._cipher.decrypt(item["code_verifier"]["S"]),
            )
        return PendingLogin(
            request_token=item["request_token"]["S"],
            request_token_secret=self._cipher.decrypt(item["request_token_secret"]["S"]),
        )

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
        with aws_call("DynamoDB PutItem"):
            self._db.put_item(TableName=self._table, Item=item)
        return SignedIn(session_id, account_id, username, expires_at)

    def signed_in(self, session_id: str, now: int) -> SignedIn | None:
        """The live session for this id, or None. Extends the idle limit now and then."""
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(TableName=self._table, Key=_session_key(session_id)).get(
                "Item"
            )
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
            with aws_call("DynamoDB UpdateItem"):
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
        except ConditionFailed:
            return session  # signed out meanwhile: this request still ends normally
        return SignedIn(session.session_id, session.account_id, session.username, wanted)

    def end_session(self, session_id: str) -> None:
        with aws_call("DynamoDB DeleteItem"):
            self._db.delete_item(TableName=self._table, Key=_session_key(session_id))

    def end_account_sessions(self, account_id: str) -> int:
        """Delete every session of the account (found through `sessions-by-account`);
        returns how many there were."""
        keys: list[dict[str, Any]] = []
        with aws_call("DynamoDB Query"):
            pages = self._db.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=SESSIONS_BY_ACCOUNT_INDEX,
                KeyConditionExpression="session_account_id = :id",
                ExpressionAttributeValues={":id": {"S": account_id}},
            )
            for page in pages:
                keys.extend({"pk": item["pk"]} for item in page["Items"])
        for start in range(0, len(keys), 25):
            self._delete_all(keys[start : start + 25])
        return len(keys)

    def _delete_all(self, keys: list[dict[str, Any]]) -> None:
        requests = [{"DeleteRequest": {"Key": key}} for key in keys]
        for _ in range(BATCH_WRITE_ATTEMPTS):
            with aws_call("DynamoDB BatchWriteItem"):
                answer = self._db.batch_write_item(RequestItems={self._table: requests})
            requests = answer.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
        raise StoreUnavailable("DynamoDB BatchWriteItem left sessions undeleted")
