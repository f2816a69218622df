"""The report's two long lists on pages of their own: everyone still waiting for an answer
(/report/waiting) and every answer, slowest first (/report/slowest), PER_PAGE rows a page,
each sortable, from the same report the page shows (its settings, its zone). Pure: a
Report and the query in, what the list template shows out."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from chalicelib.analytics import InvalidReportParameter, MentionRow, Report, WaitingRow
from chalicelib.report_settings import whole_number

PER_PAGE = 50
ListName = Literal["waiting", "slowest"]


@dataclass(frozen=True)
class Sort:
    name: str  # in the query: ?sort=<name>
    label: str  # the link's words
    key: Callable[[Any], Any]
    reverse: bool


def _started(row: WaitingRow) -> datetime:
    return row.started_at


def _posted(row: MentionRow) -> datetime:
    return row.created_at


def _response(row: MentionRow) -> tuple[float, datetime]:
    return (-(row.response_seconds or 0), row.created_at)


# The first of each is the default: what the report page's short list shows.
SORTS: dict[ListName, tuple[Sort, ...]] = {
    "waiting": (
        Sort("newest", "newest first", _started, reverse=True),
        Sort("oldest", "waiting longest first", _started, reverse=False),
    ),
    "slowest": (
        Sort("slowest", "slowest first", _response, reverse=False),
        Sort("newest", "newest first", _posted, reverse=True),
        Sort("oldest", "oldest first", _posted, reverse=False),
    ),
}
TITLES: dict[ListName, str] = {
    "waiting": "People still waiting for an answer",
    "slowest": "Every answer, slowest first",
}


@dataclass(frozen=True)
class ListPage:
    name: ListName
    title: str
    rows: Sequence[Any]  # WaitingRow or MentionRow
    total: int
    page: int  # 1-based
    pages: int
    first: int  # the number of the page's first row, 1-based (0 when there is none)
    sort: str
    sorts: list[dict[str, Any]]  # {"label", "href", "current"} per way to sort
    previous_href: str | None
    next_href: str | None


def page_authors(report: Report, name: ListName, query: dict[str, str]) -> list[str]:
    """The author ids of the rows the list's page shows (their handles are looked up)."""
    rows = list_page(report, name, query).rows
    return list(dict.fromkeys(row.author_id for row in rows if row.author_id))


def list_page(report: Report, name: ListName, query: dict[str, str]) -> ListPage:
    """One page of the list, sorted as the query says (`sort`, `page`); the other values of
    the query (the report's settings) are kept in every link. InvalidReportParameter names
    a `sort` or `page` that is not one of this list's."""
    sorts = SORTS[name]
    chosen = next((s for s in sorts if s.name == (query.get("sort") or sorts[0].name)), None)
    if chosen is None:
        names = ", ".join(s.name for s in sorts)
        raise InvalidReportParameter(f"sort must be one of {names}.", "sort")
    rows: Sequence[Any] = report.waiting_all if name == "waiting" else report.slowest_all
    ordered = sorted(rows, key=chosen.key, reverse=chosen.reverse)
    pages = max(1, math.ceil(len(ordered) / PER_PAGE))
    page = whole_number(query.get("page") or "1", "page", 1, pages)
    start = (page - 1) * PER_PAGE
    shown = ordered[start : start + PER_PAGE]

    def href(**changes: object) -> str:
        values = {**query, **{k: str(v) for k, v in changes.items()}}
        kept = {k: v for k, v in values.items() if v != "" and not (k == "page" and v == "1")}
        return f"/report/{name}" + (f"?{urlencode(kept)}" if kept else "")

    return ListPage(
        name=name,
        title=TITLES[name],
        rows=shown,
        total=len(ordered),
        page=page,
        pages=pages,
        first=start + 1 if shown else 0,
        sort=chosen.name,
        sorts=[
            {"label": s.label, "href": href(sort=s.name, page=1), "current": s is chosen}
            for s in sorts
        ],
        previous_href=href(page=page - 1, sort=chosen.name) if page > 1 else None,
        next_href=href(page=page + 1, sort=chosen.name) if page < pages else None,
    )
