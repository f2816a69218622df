"""Accounts in the DynamoDB table that also holds the sessions (sessions.py).

Items `account#<X user id>`: the handle, the account's X tokens (encrypted), the report
settings the person saved (`report_settings`, a map of setting name -> text, as typed into
the settings form and checked by report_settings.saved_form), and the marks other features
set (`report_refreshed_at`, `token_rejected_at`, `forgetting_at`, `refresh_asked_at`: the
last press of "Refresh now").

`sign_in` says which tokens the item holds: `oauth1` (an access token and its secret, which
never expire) or `oauth2` (an access token, its `token_expires_at`, and a refresh token, all
from X's OAuth 2.0, all three encrypted). X takes a refresh token once, so two refreshes of
one account must not both reach X (token_refresh.py): `refresh_token_hash` (the SHA-256 of
the refresh token in force) is the condition of every write of a new pair, and
`refresh_claim` with `refresh_claimed_at` is the claim of the one refresh under way.

`generation` is a random value the account gets when it is created, and loses the moment a
forget begins (`forgetting_at` is set): every writer of the account's S3 objects read it
with the tokens, and confirms it after writing (`confirm_written`). A writer that finds it
changed wrote for an account that was forgotten meanwhile, and deletes what it wrote: no
refresh in flight can bring a forgotten account's data back.

The sparse index `refresh-due` lists account items by `refresh_group` (one constant) and
`report_refreshed_at` (epoch seconds of the last stored report, 0 before the first). The
schedule asks it for the accounts whose report is older than the max age, oldest first,
never with a Scan. One partition is plenty: an index entry is under 100 bytes, so a round
of 100,000 accounts is about ten 1 MB Query pages.

Retention (sweep.Retention, daily): `viewed_at` is the epoch second of the account's last
view as noted (a sign-in is one; a view notes itself at most once a day, VIEW_NOTE_SECONDS,
so the note is at most a day behind), and `view_state` says where the account stands:
`listed` (in `refresh-due`, with its `refresh_group`) or `idle` (not viewed for
REFRESH_IDLE_DAYS: out of it, so no round reads or refreshes it). The sparse index
`last-viewed` lists account items by `view_state` and `viewed_at`: the sweep asks it for
the listed accounts viewed before the idle limit (they leave `refresh-due`) and for the
idle ones viewed before ACCOUNT_RETENTION_DAYS (they are forgotten), never with a Scan.
Keys only: the sweep needs nothing else, and a note writes the index once a day at most.
An item from before `viewed_at` counts its `signed_in_at` as its last view (the sweep
writes it in once, `backfill_viewed_at`, when it meets the item's archive folder).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.config import OAUTH1, OAUTH2
from chalicelib.errors import ConditionFailed, StoreUnavailable, aws_call
from chalicelib.tokens import TokenCipher
from chalicelib.x_bill import XCost

REFRESH_DUE_INDEX = "refresh-due"
LAST_VIEWED_INDEX = "last-viewed"
LISTED, IDLE = "listed", "idle"  # view_state: in refresh-due, or out of it
# A view notes itself (one UpdateItem) only when the note it read is this old: at most one
# write a day per account, however often she looks; idleness is counted in weeks.
VIEW_NOTE_SECONDS = 24 * 3600
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
    # The last view noted (`viewed_at`; `signed_in_at` on an item from before it), read with
    # the tokens so a view knows for free whether to note itself.
    viewed_at: int = 0
    # In `refresh-due` (`refresh_group` set): False once idle, until a view or a sign-in.
    in_refresh_index: bool = True
    sign_in: str = OAUTH1  # OAUTH2: the access token is a Bearer token with an expiry
    refresh_token: str = ""  # OAuth 2.0 only, as the three below
    expires_at: int = 0  # epoch seconds the access token stops working
    refresh_claimed_at: int = 0  # a refresh under way since then (0: none)
    # What X billed for the account's reads (add_x_cost), in all and this month.
    billed: XCost = field(default_factory=lambda: no_cost(""))


@dataclass(frozen=True)
class OAuth2Pair:
    """A pair X's OAuth 2.0 token endpoint gave, as the store keeps it."""

    access_token: str
    refresh_token: str
    expires_at: int


def token_hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


# What an OAuth 1.0a sign-in removes from an item that held OAuth 2.0 tokens, and back.
OAUTH2_ATTRIBUTES = (
    "refresh_token, refresh_token_hash, token_expires_at, refresh_claim, refresh_claimed_at"
)


@dataclass(frozen=True)
class ForgetBegun:
    """A forget the retention began: the handle, and the tokens to revoke at X (None: X
    had already rejected them)."""

    username: str
    tokens: AccountTokens | None


@dataclass
class FolderOwners:
    """What the sweep learns of the accounts of some archive folders, in one read."""

    forgotten: dict[str, int | None]  # as AccountStore.forgotten_among
    # Items from before `viewed_at` (no `view_state`): their `signed_in_at`.
    unviewed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DueAccount:
    """An account the `refresh-due` index lists as due, as the schedule sees it."""

    account_id: str
    refreshed_at: int
    token_rejected: bool


def account_key(account_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"account#{account_id}"}}


def no_cost(month: str) -> XCost:
    return {
        "posts": 0,
        "usd": 0.0,
        "month": month,
        "month_posts": 0,
        "month_usd": 0.0,
        "users": 0,
        "month_users": 0,
    }


def _billed(item: Mapping[str, Any]) -> XCost:
    def number(name: str) -> float:
        return float(item.get(name, {}).get("N", 0))

    return {
        "posts": int(number("x_posts_billed")),
        "usd": number("x_usd_billed"),
        "month": item.get("x_month", {}).get("S", ""),
        "month_posts": int(number("x_month_posts")),
        "month_usd": number("x_month_usd"),
        "users": int(number("x_users_billed")),
        "month_users": int(number("x_month_users")),
    }


def _saved_settings(item: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: value["S"]
        for name, value in item.get("report_settings", {}).get("M", {}).items()
        if "S" in value
    }


def last_view(item: Mapping[str, Any]) -> int:
    """The item's last view noted: `viewed_at`, or its sign-in on an item from before it."""
    noted = item.get("viewed_at") or item.get("signed_in_at") or {"N": "0"}
    return int(noted["N"])


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
        """Keep what other features stored on the account; clear a mark of rejected tokens.
        A sign-in is a view: the account is (back) in the refresh index."""
        self._save(
            account_id,
            username,
            now,
            "access_token_secret = :secret",
            {
                ":token": {"S": self._cipher.encrypt(access_token)},
                ":secret": {"S": self._cipher.encrypt(access_token_secret)},
                ":sign_in": {"S": OAUTH1},
            },
            OAUTH2_ATTRIBUTES,
        )

    def save_oauth2(self, account_id: str, username: str, pair: OAuth2Pair, now: int) -> None:
        """save, for a sign-in over OAuth 2.0: the pair, its expiry and the refresh token's
        hash (the condition of the next refresh's write); a claim left over is dropped."""
        self._save(
            account_id,
            username,
            now,
            "refresh_token = :refresh, refresh_token_hash = :hash, token_expires_at = :expires",
            {
                ":token": {"S": self._cipher.encrypt(pair.access_token)},
                ":refresh": {"S": self._cipher.encrypt(pair.refresh_token)},
                ":hash": {"S": token_hash(pair.refresh_token)},
                ":expires": {"S": self._cipher.encrypt(str(pair.expires_at))},
                ":sign_in": {"S": OAUTH2},
            },
            "access_token_secret, refresh_claim, refresh_claimed_at",
        )

    def _save(
        self,
        account_id: str,
        username: str,
        now: int,
        tokens: str,
        values: dict[str, Any],
        remove: str,
    ) -> None:
        with aws_call("DynamoDB UpdateItem"):
            self._db.update_item(
                TableName=self._table,
                Key=account_key(account_id),
                UpdateExpression=(
                    "SET kind = :account, account_id = :id, username = :username, "
                    f"sign_in = :sign_in, access_token = :token, {tokens}, signed_in_at = :now, "
                    "refresh_group = :group, viewed_at = :now, view_state = :listed, "
                    "report_refreshed_at = if_not_exists(report_refreshed_at, :never), "
                    "generation = if_not_exists(generation, :generation) "
                    f"REMOVE token_rejected_at, forgetting_at, {remove}"
                ),
                ExpressionAttributeValues={
                    ":account": {"S": "account"},
                    ":id": {"S": account_id},
                    ":username": {"S": username},
                    **values,
                    ":now": {"N": str(now)},
                    ":group": {"S": REFRESH_GROUP},
                    ":listed": {"S": LISTED},
                    ":never": {"N": "0"},
                    ":generation": {"S": secrets.token_hex(8)},
                },
            )

    def begin_forget(self, account_id: str, now: int) -> AccountTokens | None:
        """The first step of a forget: from now on no writer in flight can confirm what it
        writes (the generation is gone) and the schedule skips the account. Returns the
        tokens, to revoke at X once everything is deleted (None: no account, or X had
        already rejected them). A forget asked again after a failure finds them again."""
        item = self._begin(account_id, now, "attribute_exists(pk)", {})
        return None if item is None else self._revocable(account_id, item)

    def begin_idle_forget(
        self, account_id: str, now: int, viewed_before: int
    ) -> ForgetBegun | None:
        """begin_forget for the retention: only if the account is still idle and was last
        viewed before `viewed_before` (one condition on the same UpdateItem, so a sign-in
        or a view since keeps it whole). None: viewed since, or gone; nothing changed."""
        item = self._begin(
            account_id,
            now,
            "view_state = :idle AND viewed_at < :before",
            {":idle": {"S": IDLE}, ":before": {"N": str(viewed_before)}},
        )
        if item is None:
            return None
        username = item.get("username", {}).get("S", "")
        return ForgetBegun(username, self._revocable(account_id, item))

    def _begin(
        self, account_id: str, now: int, condition: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Mark the forget begun and drop the generation, if `condition` holds; the item as
        it was, or None."""
        try:
            with aws_call("DynamoDB UpdateItem"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=account_key(account_id),
                    UpdateExpression="SET forgetting_at = :now REMOVE generation",
                    ConditionExpression=condition,
                    ExpressionAttributeValues={":now": {"N": str(now)}, **values},
                    ReturnValues="ALL_OLD",
                )
        except ConditionFailed:
            return None
        item: dict[str, Any] = answer.get("Attributes") or {}
        return item

    def _revocable(self, account_id: str, item: Mapping[str, Any]) -> AccountTokens | None:
        if "access_token" not in item or "token_rejected_at" in item:
            return None
        return self._tokens(account_id, item)

    def forget(self, account_id: str) -> None:
        """Delete the account item, its tokens with it (the last step of a forget)."""
        with aws_call("DynamoDB DeleteItem"):
            self._db.delete_item(TableName=self._table, Key=account_key(account_id))

    def account_tokens(self, account_id: str, *, consistent: bool = False) -> AccountTokens | None:
        """The account's tokens, or None (no account, or its tokens refused by X). With
        `consistent`, a strongly consistent read: a refresh that lost the race reads the
        winner's pair."""
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(
                TableName=self._table, Key=account_key(account_id), ConsistentRead=consistent
            ).get("Item")
        if item is None or "access_token" not in item:
            return None
        if "token_rejected_at" in item:
            return None
        return self._tokens(account_id, item)

    def profile(self, account_id: str) -> AccountTokens | None:
        """The account as a rebuild of its stored report needs it (handle, saved settings,
        generation), without its tokens (empty: nothing made of it can read X, and no key
        is needed to decrypt them); None when it is gone or being forgotten. X rejecting
        its token does not matter here: what is stored of it must still follow X's word."""
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(
                TableName=self._table,
                Key=account_key(account_id),
                ProjectionExpression=(
                    "username, report_settings, generation, forgetting_at, report_refreshed_at"
                ),
            ).get("Item")
        if item is None or "forgetting_at" in item or "username" not in item:
            return None
        return AccountTokens(
            account_id=account_id,
            username=item["username"]["S"],
            access_token="",
            access_token_secret="",
            refreshed_at=int(item.get("report_refreshed_at", {}).get("N", 0)),
            saved_settings=_saved_settings(item),
            generation=item.get("generation", {}).get("S", ""),
        )

    def _tokens(self, account_id: str, item: Mapping[str, Any]) -> AccountTokens:
        oauth2 = item.get("sign_in", {}).get("S") == OAUTH2
        return AccountTokens(
            account_id=account_id,
            username=item["username"]["S"],
            access_token=self._cipher.decrypt(item["access_token"]["S"]),
            access_token_secret=""
            if oauth2
            else self._cipher.decrypt(item["access_token_secret"]["S"]),
            sign_in=OAUTH2 if oauth2 else OAUTH1,
            refresh_token=self._cipher.decrypt(item["refresh_token"]["S"]) if oauth2 else "",
            expires_at=int(self._cipher.decrypt(item["token_expires_at"]["S"])) if oauth2 else 0,
            refresh_claimed_at=int(item.get("refresh_claimed_at", {}).get("N", 0)),
            refreshed_at=int(item.get("report_refreshed_at", {}).get("N", 0)),
            saved_settings=_saved_settings(item),
            generation=item.get("generation", {}).get("S", ""),
            forgetting="forgetting_at" in item,
            viewed_at=last_view(item),
            in_refresh_index="refresh_group" in item,
            billed=_billed(item),
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
        return self.folder_owners(account_ids).forgotten

    def folder_owners(self, account_ids: list[str]) -> FolderOwners:
        """forgotten_among, and which of the accounts still have no `viewed_at` (items from
        before it), read in the same BatchGetItem calls."""
        owners = FolderOwners(dict.fromkeys(account_ids))
        for start in range(0, len(account_ids), BATCH_GET_LIMIT):
            for item in self._batch_get(account_ids[start : start + BATCH_GET_LIMIT]):
                account_id = item["pk"]["S"].removeprefix("account#")
                if "forgetting_at" in item:
                    owners.forgotten[account_id] = int(item["forgetting_at"]["N"])
                    continue
                owners.forgotten.pop(account_id, None)
                if "view_state" not in item and "signed_in_at" in item:
                    owners.unviewed[account_id] = int(item["signed_in_at"]["N"])
        return owners

    def _batch_get(self, account_ids: list[str]) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            self._table: {
                "Keys": [account_key(account_id) for account_id in account_ids],
                "ProjectionExpression": "pk, forgetting_at, view_state, signed_in_at",
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

    def note_viewed(self, account: AccountTokens, now: int) -> bool:
        """The person looked at her report: note it on the account, only when the note read
        with her tokens is VIEW_NOTE_SECONDS old or more (at most one UpdateItem a day),
        or when the account had left the refresh index (it goes back in: the schedule
        refreshes it again). True when a note was written. A forget begun is left alone."""
        fresh = now - account.viewed_at < VIEW_NOTE_SECONDS
        if fresh and account.in_refresh_index:
            return False
        return self._update_account(
            account.account_id,
            UpdateExpression="SET viewed_at = :now, view_state = :listed, refresh_group = :group",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(forgetting_at)",
            ExpressionAttributeValues={
                ":now": {"N": str(now)},
                ":listed": {"S": LISTED},
                ":group": {"S": REFRESH_GROUP},
            },
        )

    def backfill_viewed_at(self, account_id: str, signed_in_at: int) -> bool:
        """An item from before `viewed_at`: its sign-in counts as its last view, and it is
        listed (in `refresh-due`, as every such item is), so `last-viewed` knows it. Once
        per item: a view or sign-in that noted itself meanwhile wins."""
        return self._update_account(
            account_id,
            UpdateExpression="SET viewed_at = :at, view_state = :listed",
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(view_state)"
                " AND attribute_not_exists(forgetting_at)"
            ),
            ExpressionAttributeValues={
                ":at": {"N": str(signed_in_at)},
                ":listed": {"S": LISTED},
            },
        )

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

    # --- OAuth 2.0: one refresh of a pair at a time (token_refresh.py) ----------------------

    def claim_token_refresh(
        self, account: AccountTokens, claim: str, now: int, lease_seconds: int
    ) -> bool:
        """Claim the refresh of the account's pair: True for one caller only, while its
        refresh token is the one in force, its tokens not refused, and no other claim is
        younger than `lease_seconds` (a claimer that died frees the pair after that). Never once
        a forget began: the tokens it revokes at X stay the last ones."""
        return self._update_account(
            account.account_id,
            UpdateExpression="SET refresh_claim = :claim, refresh_claimed_at = :now",
            ConditionExpression=(
                "refresh_token_hash = :hash AND attribute_not_exists(token_rejected_at) AND "
                "attribute_not_exists(forgetting_at) AND "
                "(attribute_not_exists(refresh_claimed_at) OR refresh_claimed_at <= :stale)"
            ),
            ExpressionAttributeValues={
                ":claim": {"S": claim},
                ":now": {"N": str(now)},
                ":hash": {"S": token_hash(account.refresh_token)},
                ":stale": {"N": str(now - lease_seconds)},
            },
        )

    def release_token_refresh(self, account_id: str, claim: str) -> None:
        """The claimed refresh failed (X down, or refusing): let the next one try."""
        self._update_account(
            account_id,
            UpdateExpression="REMOVE refresh_claim, refresh_claimed_at",
            ConditionExpression="refresh_claim = :claim",
            ExpressionAttributeValues={":claim": {"S": claim}},
        )

    def save_refreshed(self, account: AccountTokens, pair: OAuth2Pair) -> bool:
        """Store the pair X gave for `account`'s refresh token, only if that refresh token
        is still the one in force (its hash, the condition); the claim goes. False when it
        is not (she signed in anew meanwhile), and nothing is written."""
        return self._update_account(
            account.account_id,
            UpdateExpression=(
                "SET access_token = :token, refresh_token = :refresh, "
                "refresh_token_hash = :new_hash, token_expires_at = :expires "
                "REMOVE refresh_claim, refresh_claimed_at"
            ),
            ConditionExpression="refresh_token_hash = :old_hash",
            ExpressionAttributeValues={
                ":token": {"S": self._cipher.encrypt(pair.access_token)},
                ":refresh": {"S": self._cipher.encrypt(pair.refresh_token)},
                ":new_hash": {"S": token_hash(pair.refresh_token)},
                ":expires": {"S": self._cipher.encrypt(str(pair.expires_at))},
                ":old_hash": {"S": token_hash(account.refresh_token)},
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

    def add_x_cost(
        self, account_id: str, month: str, posts: int, usd: Decimal, users: int = 0
    ) -> bool:
        """Count what X billed for a read of the account (`posts` read, `users` looked up,
        `usd` for both): in all, and in `month` (a new month starts its count afresh). One
        UpdateItem; two when the month has just turned. False when the account is gone
        (nothing is written for it)."""
        values = {
            ":m": {"S": month},
            ":p": {"N": str(posts)},
            ":n": {"N": str(users)},
            ":u": {"N": str(usd)},
        }
        if self._update_account(
            account_id,
            UpdateExpression=(
                "SET x_month = :m ADD x_posts_billed :p, x_users_billed :n, x_usd_billed :u, "
                "x_month_posts :p, x_month_users :n, x_month_usd :u"
            ),
            ConditionExpression="attribute_exists(pk) AND "
            "(attribute_not_exists(x_month) OR x_month = :m)",
            ExpressionAttributeValues=values,
        ):
            return True
        return self._update_account(
            account_id,
            UpdateExpression=(
                "SET x_month = :m, x_month_posts = :p, x_month_users = :n, x_month_usd = :u "
                "ADD x_posts_billed :p, x_users_billed :n, x_usd_billed :u"
            ),
            ExpressionAttributeValues=values,
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


class ViewIndex:
    """The `last-viewed` index: the accounts nobody looked at for a while, as the daily
    sweep reads and moves them. It needs no key to any token."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def viewed_before(self, view_state: str, before: int) -> Iterator[str]:
        """The ids of the accounts in `view_state` (LISTED or IDLE) last viewed before
        `before`, least recently viewed first, a Query page at a time."""
        with aws_call("DynamoDB Query"):
            pages = self._db.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=LAST_VIEWED_INDEX,
                KeyConditionExpression="view_state = :state AND viewed_at < :before",
                ExpressionAttributeValues={
                    ":state": {"S": view_state},
                    ":before": {"N": str(before)},
                },
            )
            for page in pages:
                for item in page["Items"]:
                    yield item["pk"]["S"].removeprefix("account#")

    def leave_refresh(self, account_id: str, viewed_before: int) -> bool:
        """An idle account leaves `refresh-due` (its `refresh_group` goes): no round reads
        or refreshes it again until a view or a sign-in puts it back. Only if it is still
        listed and unviewed since `viewed_before` (the index is read eventually consistent,
        and a view may have just noted itself); False when not."""
        try:
            with aws_call("DynamoDB UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=account_key(account_id),
                    UpdateExpression="SET view_state = :idle REMOVE refresh_group",
                    ConditionExpression="view_state = :listed AND viewed_at < :before",
                    ExpressionAttributeValues={
                        ":idle": {"S": IDLE},
                        ":listed": {"S": LISTED},
                        ":before": {"N": str(viewed_before)},
                    },
                )
        except ConditionFailed:
            return False
        return True
