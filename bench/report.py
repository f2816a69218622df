"""Benchmark chalicelib.analytics.build against json.loads of the same posts.

Synthesises (deterministically) 100,000 mentions and 100,000 own posts as X API v2 JSON
text over 60 days (the 28-day window and the 28 days before it, which the report compares
with), shaped like a care team's: follow-ups in a person's conversation, crowd posts naming
eight accounts, replies signed by five agents, some with a link after the signature. Every
figure is computed, business hours on (09:00-17:00 Europe/Berlin, two holidays). Then it
measures, alternately and in one process, best of 3 runs each:

* ``json.loads`` of the two JSON texts (mentions + own posts), and
* ``analytics.build`` over the parsed posts plus ``Report.to_dict`` (the JSON endpoint's work).

For information it also times ``analytics.to_csv`` (the CSV endpoint's extra work: it makes
the per-mention rows, which ``build`` leaves until they are asked for); that is not part of
the ratio.

Prints a short table; ``main()`` returns the figures as a dict for other scripts.
The goal is a ratio (analysis / json.loads) of at most 1.0.

``--days`` sets the window (the posts then span it, the period before and four days more):
``--days 3650 --mentions 100000`` is a ten-year report of some 50,000 mentions, drawn by
month; it also times the page's charts and says how large the report's JSON is, since a
long window keeps a daily row per day beside its trend.

    python bench/report.py [--mentions N] [--own-posts N] [--runs R] [--days D]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib import analytics, charts
from chalicelib.formats import iso

ACCOUNT_ID = "1000000001"
USERNAME = "acmesupport"
NOW = datetime(2026, 11, 28, 15, 5, 14, tzinfo=UTC)
TWITTER_EPOCH_MS = 1288834974657
WORDS = [
    "order",
    "shipping",
    "delayed",
    "refund",
    "thanks",
    "help",
    "please",
    "account",
    "login",
    "broken",
    "app",
    "update",
    "love",
    "great",
    "slow",
    "support",
    "ticket",
    "why",
    "when",
    "where",
    "package",
    "arrived",
    "missing",
    "charge",
    "card",
    "again",
    "still",
    "waiting",
    "week",
    "today",
    "tomorrow",
    "hello",
    "any",
    "news",
    "🙏",
    "😡",
    "🎉",
    "café",
    "naïve",
]


SIGNATURES = ("^AK", "-Becky", "\u2013 Sam", "*TJ", "~Lena")
HOLIDAYS = (date(2026, 11, 11), date(2026, 11, 26))


def _snowflake(ms: int, seq: int) -> str:
    return str(((ms - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF))


def _iso(ms: int) -> str:
    return iso(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))


def synthesise(
    n_mentions: int = 100_000, n_own: int = 100_000, seed: int = 20261128, days: int = 28
) -> tuple[str, str, dict[str, str]]:
    """Return (mentions JSON text, own posts JSON text, users) as X would send them."""
    rng = random.Random(seed)
    now_ms = int(NOW.timestamp() * 1000)
    span_ms = (2 * days + 4) * 86_400_000  # the window, the period before it, a little more
    authors = [str(2_000_000_000 + i) for i in range(5000)]
    users = {a: f"user_{i}" for i, a in enumerate(authors[:4500])}  # some unknown
    mentions: list[dict[str, Any]] = []
    conversations: dict[str, str] = {}  # author -> a conversation of theirs
    for seq in range(n_mentions):
        ms = now_ms - rng.randrange(span_ms) // 1000 * 1000
        pid = _snowflake(ms, seq)
        text = f"@{USERNAME} " + " ".join(rng.choices(WORDS, k=rng.randint(3, 30)))
        if rng.random() < 0.03:  # a crowd post: names eight accounts
            text += " " + " ".join(f"@{users.get(a, 'x')}" for a in rng.sample(authors, 8))
        author = rng.choice(authors)
        # One mention in five follows up in a conversation the author is already in.
        conversation = conversations.get(author, pid) if rng.random() < 0.2 else pid
        conversations.setdefault(author, conversation)
        post: dict[str, Any] = {
            "id": pid,
            "text": text,
            "created_at": _iso(ms),
            "author_id": author,
            "conversation_id": conversation,
            "edit_history_tweet_ids": [pid],
        }
        kind = rng.random()
        if kind < 0.02:
            post["referenced_tweets"] = [{"type": "retweeted", "id": _snowflake(ms - 1, seq)}]
        elif kind < 0.03:
            post["author_id"] = ACCOUNT_ID  # self-mention
        elif kind < 0.25:
            post["in_reply_to_user_id"] = ACCOUNT_ID
            post["referenced_tweets"] = [{"type": "replied_to", "id": _snowflake(ms - 5, seq)}]
        elif kind < 0.30:
            post["referenced_tweets"] = [{"type": "quoted", "id": _snowflake(ms - 7, seq)}]
        mentions.append(post)
    mentions.sort(key=lambda p: int(p["id"]), reverse=True)  # X returns newest first

    own: list[dict[str, Any]] = []
    targets = [p for p in mentions if p["author_id"] != ACCOUNT_ID]
    for seq in range(n_own):
        kind = rng.random()
        base_ms = now_ms - rng.randrange(span_ms) // 1000 * 1000
        post = {"author_id": ACCOUNT_ID, "edit_history_tweet_ids": []}
        if kind < 0.7 and targets:
            mention = rng.choice(targets)
            m_ms = int(datetime.fromisoformat(mention["created_at"]).timestamp() * 1000)
            delay = int(rng.expovariate(1 / 3600)) * 1000
            ms = min(m_ms + delay, now_ms)
            post["in_reply_to_user_id"] = mention["author_id"]
            post["referenced_tweets"] = [{"type": "replied_to", "id": mention["id"]}]
            post["conversation_id"] = mention["conversation_id"]
            text = f"@{users.get(mention['author_id'], 'x')} " + " ".join(
                rng.choices(WORDS, k=rng.randint(5, 25))
            )
            if rng.random() < 0.85:  # signed by one of five agents, sometimes with a link
                text += " " + rng.choice(SIGNATURES)
                if rng.random() < 0.3:
                    text += f" https://t.co/{seq:x}"
        elif kind < 0.8:
            ms = base_ms
            post["referenced_tweets"] = [{"type": "replied_to", "id": _snowflake(ms - 9, seq)}]
            text = "thread " + " ".join(rng.choices(WORDS, k=10))
        elif kind < 0.85:
            ms = base_ms
            post["referenced_tweets"] = [{"type": "quoted", "id": _snowflake(ms - 3, seq)}]
            text = "look " + " ".join(rng.choices(WORDS, k=8))
        else:
            ms = base_ms
            text = " ".join(rng.choices(WORDS, k=rng.randint(5, 40)))
        pid = _snowflake(ms, seq + n_mentions)
        post.update(id=pid, text=text, created_at=_iso(ms))
        post.setdefault("conversation_id", pid)
        post["edit_history_tweet_ids"] = [pid]
        own.append(post)
    own.sort(key=lambda p: int(p["id"]), reverse=True)
    return json.dumps(mentions), json.dumps(own), users


def main(
    n_mentions: int = 100_000,
    n_own: int = 100_000,
    runs: int = 3,
    quiet: bool = False,
    days: int = 28,
) -> dict[str, Any]:
    mentions_text, own_text, users = synthesise(n_mentions, n_own, days=days)
    settings = analytics.ReportSettings(
        days=days,
        target_seconds=3600,
        tz="Europe/Berlin",
        hours=(9 * 60, 17 * 60),
        holidays=HOLIDAYS,
    )
    loads_times: list[float] = []
    build_times: list[float] = []
    csv_times: list[float] = []
    chart_times: list[float] = []
    result = None
    body: dict[str, Any] = {}
    for _ in range(runs):
        t0 = time.perf_counter()
        mentions = json.loads(mentions_text)
        own = json.loads(own_text)
        t1 = time.perf_counter()
        result = analytics.build(ACCOUNT_ID, USERNAME, mentions, own, users, NOW, settings)
        body = dict(result.to_dict())
        t2 = time.perf_counter()
        analytics.to_csv(result)
        t3 = time.perf_counter()
        charts.chart_figures(body)
        t4 = time.perf_counter()
        loads_times.append(t1 - t0)
        build_times.append(t2 - t1)
        csv_times.append(t3 - t2)
        chart_times.append(t4 - t3)
        del mentions, own
    assert result is not None
    loads_best, build_best = min(loads_times), min(build_times)
    posts = n_mentions + n_own
    figures: dict[str, Any] = {
        "posts": posts,
        "json_bytes": len(mentions_text.encode()) + len(own_text.encode()),
        "json_loads_s": loads_best,
        "analysis_s": build_best,
        "ratio": build_best / loads_best,
        "posts_per_s": posts / build_best,
        "csv_s": min(csv_times),
        "mentions_in_window": result.mentions,
        "answered": result.answered,
        "cases": result.current.cases.total,
        "crowd_left_out": result.current.excluded["crowd"],
        "previous_mentions": result.previous.mentions,
        "days": days,
        "trend": f"{len(result.trend)} rows by {result.trend_period}",
        "daily_rows": len(result.daily),
        "report_json_bytes": len(json.dumps(body).encode()),
        "charts_s": min(chart_times),
        "python": sys.version.split()[0],
    }
    if not quiet:
        print(f"posts                {posts:>12,}  ({figures['json_bytes'] / 1e6:.1f} MB JSON)")
        print(f"mentions in window   {result.mentions:>12,}  answered {result.answered:,}")
        print(
            f"cases in window      {figures['cases']:>12,}  crowd left out "
            f"{figures['crowd_left_out']:,}; the {days} days before: "
            f"{figures['previous_mentions']:,} mentions"
        )
        print(f"json.loads (best/{runs}) {loads_best * 1000:>10.1f} ms")
        print(f"analysis   (best/{runs}) {build_best * 1000:>10.1f} ms")
        print(f"ratio analysis/json  {figures['ratio']:>12.2f}  (goal <= 1.00)")
        print(f"posts per second     {figures['posts_per_s']:>12,.0f}")
        print(f"to_csv     (best/{runs}) {figures['csv_s'] * 1000:>10.1f} ms  (not in the ratio)")
        print(
            f"window               {days:>12,} days: {figures['daily_rows']:,} daily rows, "
            f"trend {figures['trend']}, report JSON {figures['report_json_bytes'] / 1e3:,.0f} kB"
        )
        charts_ms = figures["charts_s"] * 1000
        print(f"charts     (best/{runs}) {charts_ms:>10.1f} ms  (not in the ratio)")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--own-posts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=28, help="the window (1 to 3650)")
    args = parser.parse_args()
    main(args.mentions, args.own_posts, args.runs, days=args.days)
