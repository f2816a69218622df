"""/report.xlsx: the CSV's rows as a workbook a spreadsheet opens cleanly.

Unlike the CSV, each cell has its type: ids are text (an 19-digit post id as a number
loses its last digits in Excel), times are dates in the report's zone (Excel has no time
zones: the column header names the zone), durations are durations ([h]:mm:ss, so 50 hours
read 50:00:00 and sum like numbers), and no cell is a formula: text that begins with "=",
"+", "-" or "@" is written as text, so the CSV's safety apostrophe is not needed.

openpyxl is imported when a workbook is made, not at import: no other route pays for it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.analytics import MentionRow

SHEET = "Mentions"
DURATION_FORMAT = "[h]:mm:ss"
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
# (header, width in characters) per column; the header of the time names the zone.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("id", 21),
    ("created_at", 20),
    ("author", 18),
    ("answered", 10),
    ("reply_id", 21),
    ("response_time", 14),
    ("business_time", 14),
    ("case_id", 21),
    ("excluded", 16),
    ("signature", 12),
    ("link", 48),
    ("text", 80),
)


def _duration(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time in the zone, without the zone (Excel's dates have none)."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _cells(row: MentionRow, zone: ZoneInfo) -> tuple[Any, ...]:
    return (
        row.id,
        _local(row.created_at, zone),
        row.author,
        row.answered,
        row.reply_id,
        _duration(row.response_seconds),
        _duration(row.business_seconds),
        row.case_id,
        row.excluded,
        row.signature,
        row.link,
        row.text,
    )


def to_xlsx(rows: Iterable[MentionRow], tz: str) -> bytes:
    """A workbook of one sheet: a header, then a row per mention, as the CSV has them."""
    from openpyxl import Workbook

    zone = ZoneInfo(tz)
    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    headers = [f"created_at ({tz})" if name == "created_at" else name for name, _ in COLUMNS]
    sheet.append(headers)
    for row in rows:
        sheet.append(_cells(row, zone))
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            _type(cell)
    for index, (_, width) in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _type(cell: Any) -> None:
    """A cell as what it is: text stays text (openpyxl takes "=..." for a formula),
    a time is a date, a duration a duration."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    elif isinstance(cell.value, datetime):
        cell.number_format = DATE_FORMAT
    elif isinstance(cell.value, timedelta):
        cell.number_format = DURATION_FORMAT
