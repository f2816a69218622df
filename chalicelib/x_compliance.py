"""X's batch compliance, app-only: which stored posts X says must go.

X's Developer Agreement wants a stored post removed within 24 hours of its deletion on X, or
of its author turning protected or being suspended. Batch compliance says which: create a job
(`POST /2/compliance/jobs`), PUT the ids, one a line, to its `upload_url`, read the job
(`GET /2/compliance/jobs/:id`) until it is `complete`, then GET its `download_url`: JSON
lines, one per id whose state changed.

Tweepy has no helper for it, so this is `requests`, through x_http's session (one base URL,
one timeout) and its error mapping. The endpoints take the app's bearer token only (OAuth 2.0
client credentials), never a user's. The upload and download URLs are presigned storage
URLs: they are sent no credentials at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from chalicelib.budget import COMPLIANCE_JOBS, XBudget
from chalicelib.errors import XUnavailable
from chalicelib.x_http import XApiSession, mount_timeout, x_errors

if TYPE_CHECKING:  # archive brings in botocore; only its type is needed here
    from chalicelib.archive import ArchiveState

TWEETS = "tweets"
USERS = "users"
COMPLETE = "complete"
FAILED = "failed"
# Reasons that are about the author: every stored post of hers must go, and her handle.
ACCOUNT_REASONS = frozenset({"protected", "suspended", "deactivated"})
# A reason that asks to drop only the geo data, which the archive never keeps.
SCRUB_GEO = "scrub_geo"


@dataclass(frozen=True)
class AppToken:
    """The app's bearer token. Its repr leaves the token out: it is a password."""

    access_token: str
    token_type: str = "bearer"

    def __repr__(self) -> str:
        return f"AppToken(token_type={self.token_type!r})"


@dataclass(frozen=True)
class Job:
    id: str
    upload_url: str
    download_url: str
    status: str  # created, in_progress, complete, failed or expired

    @property
    def done(self) -> bool:
        """No later read will change it: results to download, or none ever."""
        return self.status not in ("created", "in_progress")


@dataclass(frozen=True)
class Change:
    """One id whose stored copy must go, and why (deleted, protected, suspended,
    deactivated or scrub_geo); `action` is X's word for what to do, "delete"."""

    id: str
    reason: str
    action: str = "delete"


def bearer_token(
    base_url: str, consumer_key: str, consumer_secret: str, timeout: float
) -> AppToken:
    """OAuth 2.0 client credentials: HTTP Basic of the consumer key and secret."""
    session = XApiSession(base_url, timeout)
    with x_errors("oauth2/token"):
        response = session.post(
            f"{session.base_url}/oauth2/token",
            auth=(consumer_key, consumer_secret),
            data={"grant_type": "client_credentials"},
        )
        response.raise_for_status()
    body = _json(response, "oauth2/token")
    token = body.get("access_token")
    if str(body.get("token_type", "")).lower() != "bearer" or not isinstance(token, str):
        raise XUnavailable("oauth2/token: X answered no bearer token")
    return AppToken(token)


class ComplianceClient:
    """Batch compliance jobs of the app whose bearer token it is given."""

    def __init__(
        self,
        base_url: str,
        bearer: AppToken | str,
        timeout: float,
        budget: XBudget | None = None,
    ) -> None:
        self._bearer = bearer.access_token if isinstance(bearer, AppToken) else bearer
        self._api = XApiSession(base_url, timeout)
        # The app's budget of compliance requests (X: 150 per 15 minutes per app): each call
        # to the jobs endpoints takes a token first; none left is a 429 before X sees it.
        self._budget = budget
        # Presigned URLs: a plain session, so the bearer token never goes to storage.
        self._storage = mount_timeout(requests.Session(), timeout)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        if self._budget is not None:
            self._budget.take(COMPLIANCE_JOBS)
        with x_errors(what):
            response = self._api.request(
                method,
                f"{self._api.base_url}{path}",
                headers={"Authorization": f"Bearer {self._bearer}"},
                **kwargs,
            )
            response.raise_for_status()
        return _json(response, what)

    def create_job(self, kind: str = TWEETS, name: str | None = None) -> Job:
        """A new job for post ids (`tweets`) or user ids (`users`)."""
        payload: dict[str, str] = {"type": kind}
        if name is not None:
            payload["name"] = name
        body = self._call("POST", "/2/compliance/jobs", "compliance/jobs", json=payload)
        return _job(body, "compliance/jobs")

    def active_jobs(self, kind: str) -> list[Job]:
        """The app's jobs of `kind` X is still working on (X runs one per type at a time)."""
        body = self._call(
            "GET",
            "/2/compliance/jobs",
            "compliance/jobs",
            params={"type": kind, "status": "in_progress"},
        )
        listed = body.get("data") or []
        if not isinstance(listed, list):
            raise XUnavailable("compliance/jobs: X answered no list of jobs")
        return [_job({"data": entry}, "compliance/jobs") for entry in listed]

    def upload(self, job: Job, ids: Iterable[str]) -> None:
        """PUT the ids, one a line, to the job's upload URL."""
        text = "".join(f"{post_id}\n" for post_id in ids)
        with x_errors("compliance upload"):
            response = self._storage.put(
                job.upload_url, data=text.encode(), headers={"Content-Type": "text/plain"}
            )
            response.raise_for_status()

    def job(self, job_id: str) -> Job:
        """The job as X has it now (its status moves on as X works)."""
        body = self._call("GET", f"/2/compliance/jobs/{job_id}", "compliance/jobs/:id")
        return _job(body, "compliance/jobs/:id")

    def results(self, job: Job) -> list[Change]:
        """What the download of a complete job lists: one Change per line."""
        with x_errors("compliance download"):
            response = self._storage.get(job.download_url)
            response.raise_for_status()
        return parse_results(response.text)


def parse_results(text: str) -> list[Change]:
    """X's JSON lines (blank lines skipped); a line that is not one raises XUnavailable."""
    changes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            post_id, reason = record["id"], record["reason"]
            action = record.get("action", "delete")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise XUnavailable(f"compliance download: line {number} is not a result") from error
        if not isinstance(post_id, str) or not isinstance(reason, str):
            raise XUnavailable(f"compliance download: line {number} is not a result")
        changes.append(Change(id=post_id, reason=reason, action=str(action)))
    return changes


def _json(response: Any, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise XUnavailable(f"{what}: X answered something that is not JSON") from error
    if not isinstance(body, dict):
        raise XUnavailable(f"{what}: X answered something that is not a JSON object")
    return body


def _job(body: dict[str, Any], what: str) -> Job:
    data = body.get("data")
    if not isinstance(data, dict):
        raise XUnavailable(f"{what}: X answered no job")
    try:
        return Job(
            id=str(data["id"]),
            upload_url=str(data["upload_url"]),
            download_url=str(data["download_url"]),
            status=str(data["status"]),
        )
    except KeyError as error:
        raise XUnavailable(f"{what}: X answered a job without {error}") from error


def apply_changes(
    state: ArchiveState, changes: Iterable[Change], *, owner: str, kind: str = TWEETS
) -> list[str]:
    """Remove from `state` what X's compliance results say must go; the ids of the posts
    removed, in id order. Pure: `state` is changed in place and nothing else is touched.

    For a `tweets` job, a deleted post goes; a post whose author turned protected, was
    suspended or deactivated goes with every other stored post of that author. For a
    `users` job, each user named goes with every stored post of hers. A handle leaves
    `users` once no stored post of its author is left. `owner` (the account whose archive
    it is) keeps her own posts when she turns protected: she signed in to have them read.

    The posts removed join `state.withdrawn`, so that no later read and no writer merging
    into the archive stores them again (X does not return them anyway).
    """
    posts = {**state.own_posts, **state.mentions}
    doomed, gone_authors = _what_goes(changes, posts, owner, kind)
    doomed.update(
        post_id for post_id, post in posts.items() if post.get("author_id") in gone_authors
    )
    touched = {str(posts[post_id].get("author_id")) for post_id in doomed} | gone_authors
    for timeline in (state.mentions, state.own_posts):
        for post_id in doomed:
            timeline.pop(post_id, None)
    state.withdrawn |= doomed
    left = {
        str(post.get("author_id")) for post in (*state.mentions.values(), *state.own_posts.values())
    }
    for author in touched - left:
        state.users.pop(author, None)
        state.missing_users.discard(author)
    return sorted(doomed, key=int)


def _what_goes(
    changes: Iterable[Change], posts: dict[str, dict[str, Any]], owner: str, kind: str
) -> tuple[set[str], set[str]]:
    """The posts the results name that must go, and the authors all of whose posts must."""
    doomed: set[str] = set()
    gone_authors: set[str] = set()
    for change in changes:
        if change.action != "delete" or change.reason == SCRUB_GEO:
            continue
        if kind == USERS:  # a user: every post of hers goes
            author, about_author = change.id, True
        elif change.id in posts:  # a post: it goes, and all her posts if she went
            author = str(posts[change.id].get("author_id") or "")
            about_author = change.reason in ACCOUNT_REASONS
        else:
            continue
        if about_author:
            if author == owner and change.reason == "protected":
                continue  # her own posts: she signed in to have them read
            if author:
                gone_authors.add(author)
        if kind == TWEETS:
            doomed.add(change.id)
    return doomed, gone_authors


def archived_ids(state: ArchiveState, kind: str, owner: str) -> list[str]:
    """What a job of `kind` asks X about for one archive: every stored post's id, or every
    kept handle's user id but the owner's (her own account is hers to have read)."""
    if kind == TWEETS:
        return sorted({*state.mentions, *state.own_posts}, key=int)
    return sorted((user for user in state.users if user != owner), key=int)
