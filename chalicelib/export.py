"""Everything we hold about one account, as the zip `GET /export` answers: the archive of
posts as X sent them, the saved report settings, the stored report, the account as we keep
it, and a README.txt saying what each file is.

Two halves: `gather` reads what the stores hold (one GetObject each for the archive and the
report: the account item is read already, by the route's preamble), and `to_zip` writes it
out in memory, with nothing but the standard library and no clock of its own. Neither asks
X for anything.

The account's X tokens are never part of it, encrypted or not: `AccountData` has no field
for them, so `gather` leaves them behind before anything is written. They are a key to her X
account, not data about her; README.txt says so.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.x_bill import XCost

if TYPE_CHECKING:
    from chalicelib.accounts import AccountTokens
    from chalicelib.archive import Archive

README, ACCOUNT, SETTINGS, ARCHIVE, REPORT = (
    "README.txt",
    "account.json",
    "settings.json",
    "archive.json",
    "report.json",
)
README_WIDTH = 88
_NAME_COLUMN = 15  # where a file's description begins in README.txt, and its lines after
_FILE_MODE = 0o644 << 16  # rw-r--r-- once unzipped (zipfile's own default is no permission)


@dataclass(frozen=True)
class AccountData:
    """What the stores hold about one account, its tokens left out."""

    account_id: str
    username: str
    report_refreshed_at: int  # epoch seconds of the last stored report; 0: none yet
    last_viewed_at: int  # the last view noted (retention counts from it); 0: none
    saved_settings: Mapping[str, str]
    archive: dict[str, Any] | None  # the archive's JSON as stored; None: none yet
    report: dict[str, Any] | None  # the stored report; None: none yet
    x_billed: XCost | None = None  # what X billed for the account's reads, as counted

    @property
    def post_count(self) -> int:
        if self.archive is None:
            return 0
        return len(self.archive.get("mentions", [])) + len(self.archive.get("own_posts", []))


def gather(account: AccountTokens, archive: Archive) -> AccountData:
    """What we hold about `account`, read from the archive's bucket (the account item was
    read already: `account` is it). Raises StoreUnavailable when S3 fails."""
    state = archive.load(account.account_id)
    return AccountData(
        account_id=account.account_id,
        username=account.username,
        report_refreshed_at=account.refreshed_at,
        last_viewed_at=account.viewed_at,
        saved_settings=dict(account.saved_settings),
        # to_json is what Archive.save writes: the stored object, posts as X sent them.
        archive=None if state is None else state.to_json(),
        report=archive.load_report(account.account_id),
        x_billed=account.billed,
    )


def filename(data: AccountData, made_at: datetime) -> str:
    """`responsetime-<handle>-<date>.zip` (an X handle is letters, digits and `_` only)."""
    return f"responsetime-{data.username}-{made_at.astimezone(UTC):%Y-%m-%d}.zip"


def to_zip(data: AccountData, made_at: datetime) -> bytes:
    """The zip's bytes: README.txt first, then account.json, settings.json, archive.json
    and report.json (the last two only when there is one), each stamped `made_at`: the same
    data at the same moment makes the same bytes."""
    stamp = made_at.astimezone(UTC)
    files = {
        README: readme(data, stamp).encode(),
        ACCOUNT: _json(_account(data)),
        SETTINGS: _json(dict(data.saved_settings)),
    }
    if data.archive is not None:
        files[ARCHIVE] = _json(data.archive)
    if data.report is not None:
        files[REPORT] = _json(data.report)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, body in files.items():
            entry = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = _FILE_MODE
            bundle.writestr(entry, body)
    return buffer.getvalue()


def _json(value: Any) -> bytes:
    """Pretty-printed UTF-8 (names like "María" and emoji as they are, not \\u escapes)."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def _iso(epoch_seconds: float | None) -> str | None:
    if not epoch_seconds:
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")


def _account(data: AccountData) -> dict[str, Any]:
    archived_at = data.archive.get("refreshed_at") if data.archive is not None else None
    return {
        "account_id": data.account_id,
        "username": data.username,
        "report_refreshed_at": _iso(data.report_refreshed_at),
        "archive_refreshed_at": _iso(archived_at),
        "last_viewed_at": _iso(data.last_viewed_at),
        "archive_posts": data.post_count,
        "x_billed": data.x_billed,
    }


def _describe(name: str, description: str) -> str:
    """`name`, then its description wrapped under itself: a table a text editor shows."""
    return textwrap.fill(
        description,
        README_WIDTH,
        initial_indent=name.ljust(_NAME_COLUMN),
        subsequent_indent=" " * _NAME_COLUMN,
        break_on_hyphens=False,
    )


def _file_descriptions(data: AccountData) -> list[str]:
    not_yet = "Not included: we hold no {} yet. It is made the first time you open your report."
    return [
        _describe(README, "This file."),
        _describe(
            ACCOUNT,
            "Your account as we keep it: your X user id and handle, when your report was last "
            'made ("report_refreshed_at"), when we last read X for it '
            '("archive_refreshed_at") and when you last opened it ("last_viewed_at": an '
            "account nobody opens for ACCOUNT_RETENTION_DAYS, 400 by default, is forgotten), "
            "in UTC (null: not yet), how many posts the archive holds, and what X billed "
            'the operator for reading them ("x_billed": posts and dollars, in all and in the '
            "month named).",
        ),
        _describe(
            SETTINGS,
            "The report settings you saved, as you typed them into the settings form (your "
            "target, business hours, time zone...)."
            if data.saved_settings
            else "The report settings you saved: {} (you saved none: the defaults apply).",
        ),
        _describe(
            ARCHIVE,
            f"Every post we read from X for your report ({data.post_count}), exactly as X sent "
            'them: the posts that mention you ("mentions") and your own posts ("own_posts"); '
            'the handles of the people in them ("users", by X user id); and how far each '
            'timeline was read ("cursors": the newest post id, and any gap an interrupted read '
            "left), so that a refresh asks X only for what is new; and the ids of posts X told "
            'us to delete ("withdrawn": deleted on X, or their author protected or suspended), '
            "kept only so that they are never stored again; and, if you asked us to read your "
            'older history, how far that read has gone ("history": what X counted, and the '
            "pages read).",
        )
        if data.archive is not None
        else _describe(ARCHIVE, not_yet.format("archive of your posts")),
        _describe(
            REPORT,
            "Your last report, as we stored it: its figures, the settings it was made with "
            '("settings") and where its posts came from ("source").',
        )
        if data.report is not None
        else _describe(REPORT, not_yet.format("report for you")),
    ]


def readme(data: AccountData, made_at: datetime) -> str:
    """README.txt: what each file is, what is left out and why, and how to delete it all."""
    title = f"responsetime: everything we hold about @{data.username}"
    files = "\n".join(_file_descriptions(data))
    made = textwrap.fill(
        f"Made {made_at:%Y-%m-%d %H:%M:%S} UTC for the X account @{data.username} (user id "
        f"{data.account_id}). The .json files are UTF-8 text: any text editor opens them.",
        README_WIDTH,
    )
    return f"""{title}
{"=" * len(title)}

{made}

The files
---------
{files}

What is not included
--------------------
Your X access token and its secret. We keep them encrypted, and use them only to read
your mentions and posts from X for your report. They are a key to your X account, not
data about you, and a file is easily copied and sent on: so they stay with us, and go
when you forget your account. Your sign-ins to this site are left out for the same
reason (each is a random key, kept only while you stay signed in).

Deleting everything
-------------------
On your report page, under "Your data", the button "Forget my account" deletes at once
and for good: your tokens (and we ask X to revoke our access), the archive of posts, the
report, your saved settings, and every sign-in to this site. You can also remove our
access at X, under Settings > Security and account access > Apps and sessions.
"""
