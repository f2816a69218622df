"""GET /export ("Download your data"): a zip of everything we hold about the signed-in
account, through the app, moto and the X emulator. It holds every post of her archive as
stored, her saved settings, the stored report and a README; never a token, nor anything of
another account; and it costs no X request."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.export import AccountData, readme, to_zip
from tests.browser import Browser

ORIGIN = {"origin": "http://127.0.0.1:8000"}
# What Chromium sends when a link is followed: a binary answer needs `*/*` among them.
BROWSER_ACCEPT = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
EVERY_FILE = ["README.txt", "account.json", "settings.json", "archive.json", "report.json"]


def brand_with_fans(emulator: Any, username: str, fans: int) -> str:
    """`username` mentioned once an hour by `fans` people (one of them with a name and an
    emoji beyond ASCII), the first answered ten minutes later; returns its id."""
    account_id = emulator.add_account(username)
    start = datetime.now(UTC) - timedelta(days=2)
    for i in range(fans):
        fan = emulator.add_account(f"{username[:5]}_fan{i}")
        text = f"@{username} María asks {i} 🎉" if i == 0 else f"@{username} question {i}?"
        mention = emulator.add_post(fan, text, start + timedelta(hours=i))
        if i == 0:
            emulator.add_post(
                account_id, "@fan done", start + timedelta(minutes=10), reply_to=mention
            )
    return account_id


def stored(aws: dict[str, str], account_id: str, name: str) -> Any:
    """An object of the account's folder in S3, as JSON (the archive un-gzipped)."""
    key = f"accounts/{account_id}/{name}"
    body = boto3.client("s3").get_object(Bucket=aws["BUCKET_NAME"], Key=key)["Body"].read()
    return json.loads(gzip.decompress(body) if name.endswith(".gz") else body)


def post_ids(archive: dict[str, Any]) -> set[str]:
    return {post["id"] for post in [*archive["mentions"], *archive["own_posts"]]}


def download(browser: Browser) -> Any:
    answer = browser.get("/export", headers=BROWSER_ACCEPT)
    assert answer.status_code == 200, answer.body[:500]
    return answer


def unzipped(answer: Any) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(answer.body)) as bundle:
        assert bundle.testzip() is None
        return {name: bundle.read(name) for name in bundle.namelist()}


def assert_nowhere(secret: str, answer: Any, files: dict[str, bytes]) -> None:
    """Not in the zip's bytes as sent, nor in any of its files once unzipped."""
    assert secret.encode() not in answer.body
    for name, body in files.items():
        assert secret.encode() not in body, name


def test_the_export_holds_the_whole_archive_settings_and_report_and_no_token(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    # GIVEN a signed-in account with a report (so an archive), and settings she saved
    account_id = brand_with_fans(app_env, "exportbrand", fans=4)
    browser.sign_in("exportbrand")
    assert browser.get("/report").status_code == 200
    saved = browser.post("/settings", headers=ORIGIN, body="target=45&tz=Europe%2FBerlin")
    assert saved.status_code == 303
    # ... and a second account, signed in elsewhere, with a report of its own
    other_id = brand_with_fans(app_env, "otherbrand", fans=3)
    other = Browser(browser.client)
    other.sign_in("otherbrand")
    assert other.get("/report").status_code == 200
    app_env.reset_counters()

    # WHEN she downloads her data
    answer = download(browser)
    files = unzipped(answer)

    # THEN a zip named for her and today, with our headers, kept by no cache
    headers = answer.headers
    assert headers["content-type"] == "application/zip"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert headers["content-disposition"] == (
        f'attachment; filename="responsetime-exportbrand-{today}.zip"'
    )
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
    # ... with every file, README first
    assert list(files) == EVERY_FILE
    # ... every post of her archive in S3, exactly as stored, in readable UTF-8
    archive = json.loads(files["archive.json"])
    in_s3 = stored(aws, account_id, "archive.json.gz")
    assert archive == in_s3 and post_ids(archive) == post_ids(in_s3)
    assert len(post_ids(archive)) == 5  # 4 mentions and her answer
    assert "María asks 0 🎉" in files["archive.json"].decode("utf-8")
    # ... the settings she saved, the stored report, and her account without its tokens
    assert json.loads(files["settings.json"]) == {"target": "45", "tz": "Europe/Berlin"}
    assert json.loads(files["report.json"]) == stored(aws, account_id, "report.json")
    account = json.loads(files["account.json"])
    assert account["account_id"] == account_id and account["username"] == "exportbrand"
    assert account["archive_posts"] == 5 and account["report_refreshed_at"]
    # ... with what X billed for reading the 5 posts, at $0.005 each, and the handles of the
    #     4 people the report shows, at $0.010 each
    billed = account["x_billed"]
    assert (billed["posts"], billed["users"], billed["usd"]) == (5, 4, 0.025 + 0.040)
    # ... and a README saying what each file is, and how to delete it all
    text = files["README.txt"].decode()
    for name in EVERY_FILE[1:]:
        assert re.search(rf"^{re.escape(name)} +\S", text, re.MULTILINE), name
    assert "Every post we read from X for your report (5)" in text
    assert "access token and its secret" in text and "Forget my account" in text

    # AND no token of hers anywhere in it, as we hold them or decrypted
    tokens = services.account_store().account_tokens(account_id)
    assert tokens is not None
    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]
    for secret in (
        tokens.access_token,
        tokens.access_token_secret,
        item["access_token"]["S"],
        item["access_token_secret"]["S"],
    ):
        assert_nowhere(secret, answer, files)
    # AND nothing of the other account: none of its posts, its handle or its id
    others = post_ids(stored(aws, other_id, "archive.json.gz"))
    assert len(others) == 4
    for secret in (*others, "otherbrand", other_id):
        assert_nowhere(secret, answer, files)
    # AND X was not asked for anything
    assert app_env.timeline_reads() == 0


def test_an_account_that_never_opened_its_report_gets_a_zip_saying_so(
    browser: Browser, app_env: Any
) -> None:
    # GIVEN an account just signed in: no report yet, so no archive either
    account_id = brand_with_fans(app_env, "newbrand", fans=2)
    browser.sign_in("newbrand")
    app_env.reset_counters()

    # WHEN she downloads her data
    files = unzipped(download(browser))

    # THEN the zip holds what there is, and its README says what is not there yet and why
    assert list(files) == ["README.txt", "account.json", "settings.json"]
    assert json.loads(files["settings.json"]) == {}
    account = json.loads(files["account.json"])
    # (her sign-in counts as her last view: retention counts from it)
    assert account.pop("last_viewed_at").startswith(str(datetime.now(UTC).year))
    assert account == {
        "account_id": account_id,
        "username": "newbrand",
        "report_refreshed_at": None,
        "archive_refreshed_at": None,
        "archive_posts": 0,
        # nothing read from X yet: nothing billed
        "x_billed": {
            "posts": 0,
            "usd": 0.0,
            "month": "",
            "month_posts": 0,
            "month_usd": 0.0,
            "users": 0,
            "month_users": 0,
        },
    }
    text = files["README.txt"].decode()
    assert "archive.json   Not included: we hold no archive of your posts yet" in text
    assert "report.json    Not included: we hold no report for you yet" in text
    assert "{} (you saved none: the defaults apply)" in text
    # ... and reading none costs no X request
    assert app_env.timeline_reads() == 0


def test_head_answers_the_export_s_headers_without_the_zip(browser: Browser, app_env: Any) -> None:
    brand_with_fans(app_env, "headbrand", fans=1)
    browser.sign_in("headbrand")
    get = browser.get("/export", headers={"accept": "*/*"})
    head = browser.client.http.request(
        "HEAD", "/export", headers={**browser.cookie_header(), "accept": "*/*"}
    )
    assert head.status_code == get.status_code == 200
    assert head.body == b""
    assert {k.lower(): v for k, v in head.headers.items()}["content-type"] == "application/zip"


def test_signed_out_the_export_sends_her_home(browser: Browser, app_env: Any) -> None:
    answer = browser.get("/export", headers=BROWSER_ACCEPT)
    assert answer.status_code == 302 and answer.headers["location"] == "/"
    assert answer.body == b""


def test_storage_failing_gives_our_503_page_and_no_zip(browser: Browser, app_env: Any) -> None:
    from botocore.exceptions import EndpointConnectionError

    from chalicelib import services

    # GIVEN a signed-in account with a report, and S3 not answering
    brand_with_fans(app_env, "failbrand", fans=1)
    browser.sign_in("failbrand")
    assert browser.get("/report").status_code == 200

    def refuse(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    services.s3().meta.events.register("before-call.s3.GetObject", refuse)
    # WHEN she downloads her data
    answer = browser.get("/export", headers=BROWSER_ACCEPT)
    # THEN our 503 page, with our headers, and no attachment
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert "Our storage did not answer" in answer.body.decode()
    assert "content-disposition" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"


def test_the_report_page_offers_the_export_and_the_forget_page_mentions_it(
    browser: Browser, app_env: Any
) -> None:
    brand_with_fans(app_env, "linkbrand", fans=1)
    browser.sign_in("linkbrand")
    report = browser.get("/report").body.decode()
    assert '<a href="/export" aria-describedby="export-holds">Download your data</a>' in report
    assert 'id="export-holds"' in report
    asks = browser.post("/forget", headers=ORIGIN).body.decode()
    assert '<a href="/export">download your data first</a>' in asks


# --- The zip itself, from data in hand ------------------------------------------------------

DATA = AccountData(
    account_id="42",
    username="purebrand",
    report_refreshed_at=1_700_000_000,
    last_viewed_at=1_700_000_100,
    saved_settings={"target": "30"},
    archive={"version": 1, "mentions": [{"id": "7", "text": "é"}], "own_posts": []},
    report=None,
)
MADE_AT = datetime(2025, 3, 4, 5, 6, 8, tzinfo=UTC)  # a zip keeps even seconds


def test_the_same_data_at_the_same_moment_makes_the_same_bytes() -> None:
    first = to_zip(DATA, MADE_AT)
    assert first == to_zip(DATA, MADE_AT)
    with zipfile.ZipFile(io.BytesIO(first)) as bundle:
        entries = bundle.infolist()
    assert [entry.filename for entry in entries] == [
        "README.txt",
        "account.json",
        "settings.json",
        "archive.json",
    ]
    assert {entry.date_time for entry in entries} == {(2025, 3, 4, 5, 6, 8)}
    assert all(entry.compress_type == zipfile.ZIP_DEFLATED for entry in entries)


def test_the_readme_says_when_it_was_made_and_what_is_missing() -> None:
    text = readme(DATA, MADE_AT)
    title = "responsetime: everything we hold about @purebrand"
    assert text.startswith(f"{title}\n{'=' * len(title)}\n")
    assert "Made 2025-03-04 05:06:08 UTC" in text
    assert "Every post we read from X for your report (1)" in text
    assert "report.json    Not included" in text
    assert max(len(line) for line in text.splitlines()) <= 90
