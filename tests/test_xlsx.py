"""chalicelib.xlsx: the CSV's rows as typed cells: ids text, times dates in the report's
zone, durations durations, and no formula anywhere (so no safety apostrophe either)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from chalicelib.analytics import MentionRow
from chalicelib.xlsx import to_xlsx

# A 19-digit id: as a number, Excel would keep 15 digits of it.
POST_ID = "1900000000000000123"


def rows() -> list[MentionRow]:
    return [
        MentionRow(
            id=POST_ID,
            # British Summer Time begins at 01:00 UTC that day: 01:30 UTC is 02:30 there
            created_at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
            author="ann",
            author_id="7",
            text='=HYPERLINK("https://evil.example","click") @brand help?',
            answered=True,
            reply_id="1900000000000000999",
            response_seconds=50 * 3600 + 61,  # 50 h 1 min 1 s
            link=f"https://x.com/ann/status/{POST_ID}",
            case_id=POST_ID,
            business_seconds=1800,
            signature="-Becky",
        ),
        MentionRow(
            id="42",
            created_at=datetime(2026, 3, 30, 12, 0, tzinfo=UTC),
            author="+bob",
            author_id=None,
            text="@brand anyone?",
            answered=False,
            reply_id=None,
            response_seconds=None,
            link="https://x.com/i/status/42",
            excluded="not_a_question",
        ),
    ]


def test_cells_have_the_types_a_spreadsheet_needs() -> None:
    from openpyxl import load_workbook

    # WHEN the rows are written for a report in Europe/London
    book = load_workbook(io.BytesIO(to_xlsx(rows(), "Europe/London")))
    sheet = book["Mentions"]
    header = [cell.value for cell in sheet[1]]
    first = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    second = {name: cell for name, cell in zip(header, sheet[3], strict=True)}

    # THEN the time's column names its zone, and the time is London's wall clock
    assert "created_at (Europe/London)" in header
    assert first["created_at (Europe/London)"].value == datetime(2026, 3, 29, 2, 30)
    # AND ids are text, whole; a duration is a duration past 24 hours
    assert first["id"].value == POST_ID and first["id"].data_type == "s"
    assert first["response_time"].value == timedelta(hours=50, seconds=61)
    assert first["response_time"].number_format == "[h]:mm:ss"
    assert first["business_time"].value == timedelta(minutes=30)
    assert first["answered"].value is True and second["answered"].value is False
    # AND what looks like a formula is text, as written, without an apostrophe
    assert first["text"].value.startswith("=HYPERLINK(") and first["text"].data_type == "s"
    assert second["author"].value == "+bob" and second["response_time"].value is None
    assert second["excluded"].value == "not_a_question"


def test_no_cell_is_a_formula() -> None:
    # WHEN the workbook's sheet XML is read as it is stored
    with zipfile.ZipFile(io.BytesIO(to_xlsx(rows(), "UTC"))) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    # THEN it holds no formula element at all
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
