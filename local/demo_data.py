"""Deterministic demo accounts and ~60 days of posts for the X emulator.

Same ``seed`` and same ``now`` give identical accounts, texts, times and post ids.

* ``@fastbrand`` answers ~90% of its mentions, within minutes during office hours (Mon-Fri
  09:00-18:00 UTC) and at the next office opening (sometimes an on-call reply within hours)
  outside them.
* ``@slowbrand`` answers about half of its mentions, hours to days later.
* ``@quietbrand`` posts a few announcements and is never mentioned.
* ~30 customers write the mentions. The data includes retweets (customers retweeting brand
  posts, @fastbrand retweeting a customer's praise), a self-mention, brand replies to posts that
  did not mention the brand, follow-up questions in threads, a mention of both brands, a text
  with ``<script>``/HTML characters, texts with emoji, and a few recent mentions still waiting.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

DEMO_SEED = 20_261_128
HISTORY_DAYS = 60
BRANDS: tuple[tuple[str, str], ...] = (
    ("fastbrand", "FastBrand Support"),
    ("slowbrand", "SlowBrand Co."),
    ("quietbrand", "Quiet Brand"),
)
CUSTOMERS: tuple[tuple[str, str], ...] = (
    ("maria_gomez", "María Gómez"),
    ("tom_builds", "Tom Okafor"),
    ("jess_codes", "Jess Park"),
    ("dkim88", "Daniel Kim"),
    ("sam_rivera", "Sam Rivera"),
    ("aisha_b", "Aisha Bello"),
    ("lukas_weber", "Lukas Weber"),
    ("nora_haddad", "Nora Haddad"),
    ("chen_wei", "Chen Wei"),
    ("priya_s", "Priya Sharma"),
    ("ollie_t", "Ollie Thompson"),
    ("fatima_z", "Fatima Zahra"),
    ("kenji_mori", "Kenji Mori"),
    ("elena_rossi", "Elena Rossi"),
    ("jamal_w", "Jamal Washington"),
    ("sofia_lind", "Sofia Lindqvist"),
    ("raj_patel", "Raj Patel"),
    ("grace_oneil", "Grace O'Neil"),
    ("mateo_cruz", "Mateo Cruz"),
    ("hannah_braun", "Hannah Braun"),
    ("yusuf_aydin", "Yusuf Aydin"),
    ("lily_nguyen", "Lily Nguyen"),
    ("ben_carter", "Ben Carter"),
    ("zoe_sunflower", "Zoë 🌻"),
    ("bobby_tables", "Robert <b>Tables</b> & Co"),
    ("ana_silva", "Ana Silva"),
    ("marek_nowak", "Marek Nowak"),
    ("ivy_chen", "Ivy Chen"),
    ("omar_farouk", "Omar Farouk"),
    ("tess_morgan", "Tess Morgan"),
    ("night_owl_dev", "Night Owl"),
)

_PRODUCTS = ("headphones", "blender", "running shoes", "backpack", "desk lamp", "smartwatch")
_CITIES = ("Lisbon", "Toronto", "Berlin", "Nairobi", "Osaka", "Austin")
_QUESTIONS = (
    "{b} my order {order} still says processing after 5 days, any update?",
    "{b} is the app down? I can't log in since this morning",
    "hey {b} do you ship to {city}?",
    "{b} the {product} I got arrived broken. How do I return it?",
    "{b} I was charged twice for order {order} 😬",
    "why is checkout so slow today {b}",
    "{b} can I change the delivery address on {order}?",
    "{b} when is the {product} back in stock?",
    "{b} your promo code SPRING20 doesn't work at checkout",
    "{b} tracking link for {order} gives a 404",
    "Does anyone else have trouble with the {b} app on Android?",
    "{b} what's your warranty on the {product}?",
    "{b} still waiting on a refund for {order}. It's been two weeks.",
    "{b} how do I delete my account?",
    "{b} I need an invoice for order {order} for my company",
    "{b} the size guide for the {product} seems off, runs small?",
)
_PRAISE = (
    "{b} thanks for sorting out my order so quickly!",
    "shoutout to {b} support, best experience I've had in a while",
    "{b} the new {product} is great, thank you",
)
_FAST_REPLIES = (
    "@{c} Sorry about that! Could you DM us your order number so we can check? ^AK",
    "@{c} Thanks for reaching out! We've just sent you a DM with next steps. ^JM",
    "@{c} We're on it. The issue is fixed now, please try again and let us know! ^RS",
    "@{c} Yes, we do! Shipping usually takes 3-5 business days. ^AK",
    "@{c} Happy to help. Here's how to start a return: Account > Orders > Return. ^JM",
    "@{c} Glad to hear it, thanks for the kind words! ^RS",
    "@{c} Our team has escalated this. You'll hear from us within the hour. ^AK",
)
_SLOW_REPLIES = (
    "@{c} Hi, sorry for the delay. Please contact support@slowbrand.example with details.",
    "@{c} Apologies for the wait. Our team will look into it.",
    "@{c} Thank you for your patience. This should be resolved now.",
    "@{c} Hello! Please send us a DM with your order number.",
)
_FOLLOW_UPS = (
    "{b} thanks, that worked!",
    "{b} still not fixed, sorry 😕",
    "{b} sent the DM, thanks",
    "{b} ok but when exactly?",
)
_ANNOUNCEMENTS = {
    "fastbrand": (
        "Our spring collection is live! Free shipping this week.",
        "Heads up: the app update 4.2 brings faster checkout and dark mode.",
        "We're hiring support agents in Lisbon and Toronto. Come work with us!",
        "Scheduled maintenance tonight 02:00-03:00 UTC. Thanks for your patience.",
        "New: track your order live from the app.",
        "Weekend flash sale: 20% off all {product}s.",
    ),
    "slowbrand": (
        "Check out our new catalogue.",
        "Our stores will be closed on Monday for inventory.",
        "Introducing the SlowBrand {product}. Built to last.",
    ),
    "quietbrand": (
        "Quiet Brand: small things, made well.",
        "Our autumn notebook range is out now.",
        "We'll be at the craft fair in {city} this weekend.",
    ),
}
_NOISE = (
    "Anyone know a good place to get a {product} repaired in {city}?",
    "Looking for recommendations: best {product} under $100?",
    "Monday again. Coffee first.",
    "Finally finished my side project 🎉",
    "Anyone else's package stuck in customs this week?",
)


class DemoSink(Protocol):
    """What :func:`seed_demo_data` needs (implemented by ``XEmulator``)."""

    def add_account(self, username: str, name: str | None = None) -> str: ...

    def add_post(
        self,
        author_id: str,
        text: str,
        created_at: datetime,
        *,
        reply_to: str | None = None,
        mentions: Sequence[str] = (),
        retweet_of: str | None = None,
    ) -> str: ...


@dataclass
class _Planned:
    key: int
    author: str
    text: str
    at: datetime
    reply_to: int | None = None
    retweet_of: int | None = None


def office_hours(at: datetime) -> bool:
    """Mon-Fri 09:00-18:00 UTC."""
    return at.weekday() < 5 and 9 <= at.hour < 18


def _next_office_open(at: datetime) -> datetime:
    day = at.replace(hour=9, minute=0, second=0, microsecond=0)
    if at >= day:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5, 5, 5, 4, 4, 4, 3, 2, 1)


class _Planner:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.start = now - timedelta(days=HISTORY_DAYS)
        self.posts: list[_Planned] = []

    def add(
        self,
        author: str,
        text: str,
        at: datetime,
        *,
        reply_to: int | None = None,
        retweet_of: int | None = None,
    ) -> int | None:
        if at > self.now:
            return None  # would be in the future: not written yet
        key = len(self.posts)
        self.posts.append(_Planned(key, author, text, at, reply_to, retweet_of))
        return key

    def at(self, key: int) -> datetime:
        return self.posts[key].at

    def random_time(self, *, office: bool = False) -> datetime:
        rng = self.rng
        day = self.start + timedelta(days=rng.randrange(HISTORY_DAYS))
        hours = range(9, 18) if office else range(24)
        weights = [_HOUR_WEIGHTS[h] for h in hours]
        hour = rng.choices(list(hours), weights)[0]
        moment = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        if moment >= self.now:
            moment -= timedelta(days=1)
        if moment <= self.start:
            moment += timedelta(days=1)
        return moment

    def fill(self, template: str, brand: str) -> str:
        rng = self.rng
        return template.format(
            b=f"@{brand}",
            order=f"#{rng.randrange(10000, 99999)}",
            city=rng.choice(_CITIES),
            product=rng.choice(_PRODUCTS),
        )

    def fast_delay(self, at: datetime) -> timedelta | None:
        rng = self.rng
        if rng.random() < 0.1:
            return None
        if office_hours(at):
            minutes = min(50.0, max(0.8, rng.lognormvariate(math.log(6), 0.7)))
            return timedelta(minutes=minutes)
        if rng.random() < 0.2:  # on-call agent
            return timedelta(minutes=rng.uniform(40, 180))
        return (_next_office_open(at) - at) + timedelta(minutes=rng.uniform(4, 90))

    def slow_delay(self, at: datetime) -> timedelta | None:
        rng = self.rng
        if rng.random() < 0.5:
            return None
        hours = min(120.0, max(2.0, rng.lognormvariate(math.log(16), 0.9)))
        return timedelta(hours=hours)

    def answer(self, brand: str, mention: int, customer: str, delay: timedelta | None) -> None:
        if delay is None:
            return
        replies = _FAST_REPLIES if brand == "fastbrand" else _SLOW_REPLIES
        text = self.rng.choice(replies).format(c=customer)
        reply = self.add(brand, text, self.at(mention) + delay, reply_to=mention)
        # Some customers answer back in the thread; the brand may answer again.
        if reply is not None and self.rng.random() < (0.22 if brand == "fastbrand" else 0.12):
            gap = timedelta(minutes=self.rng.uniform(5, 240))
            follow = self.add(
                customer,
                self.fill(self.rng.choice(_FOLLOW_UPS), brand),
                self.at(reply) + gap,
                reply_to=reply,
            )
            if follow is not None and self.rng.random() < 0.6:
                delay2 = self.delay(brand, self.at(follow))
                self.answer_once(brand, follow, customer, delay2)

    def answer_once(
        self, brand: str, mention: int, customer: str, delay: timedelta | None
    ) -> int | None:
        if delay is None:
            return None
        replies = _FAST_REPLIES if brand == "fastbrand" else _SLOW_REPLIES
        text = self.rng.choice(replies).format(c=customer)
        return self.add(brand, text, self.at(mention) + delay, reply_to=mention)

    def delay(self, brand: str, at: datetime) -> timedelta | None:
        return self.fast_delay(at) if brand == "fastbrand" else self.slow_delay(at)


def _plan(rng: random.Random, now: datetime) -> list[_Planned]:
    plan = _Planner(rng, now)
    customers = [username for username, _ in CUSTOMERS]

    # Brand announcements (own posts that are not replies).
    announcements: dict[str, list[int]] = {}
    for brand, count in (("fastbrand", 16), ("slowbrand", 8), ("quietbrand", 6)):
        keys = []
        for _ in range(count):
            text = plan.fill(rng.choice(_ANNOUNCEMENTS[brand]), brand)
            key = plan.add(brand, text, plan.random_time(office=True))
            if key is not None:
                keys.append(key)
        announcements[brand] = sorted(keys, key=plan.at)

    # Customer mentions and the brands' answers.
    for brand, count in (("fastbrand", 245), ("slowbrand", 122)):
        for _ in range(count):
            customer = rng.choice(customers)
            template = rng.choice(_PRAISE if rng.random() < 0.12 else _QUESTIONS)
            at = plan.random_time()
            mention = plan.add(customer, plan.fill(template, brand), at)
            assert mention is not None
            plan.answer(brand, mention, customer, plan.delay(brand, at))

    # Customers replying to brand announcements (replies mention the brand).
    for brand, count in (("fastbrand", 10), ("slowbrand", 4)):
        for _ in range(count):
            parent = rng.choice(announcements[brand])
            customer = rng.choice(customers)
            at = plan.at(parent) + timedelta(minutes=rng.uniform(3, 600))
            text = plan.fill(rng.choice(("{b} finally!", "{b} does this include {city}?")), brand)
            reply = plan.add(customer, text, at, reply_to=parent)
            if reply is not None:
                plan.answer(brand, reply, customer, plan.delay(brand, at))

    # Retweets: customers retweet brand posts; @fastbrand retweets a customer's praise.
    for brand, count in (("fastbrand", 4), ("slowbrand", 1)):
        for original in rng.sample(announcements[brand], count):
            at = plan.at(original) + timedelta(minutes=rng.uniform(10, 300))
            plan.add(rng.choice(customers), "", at, retweet_of=original)

    # Fixed specials, placed relative to now so the UI always has them.
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def weekday_at(days_ago: int, hour: int, minute: int) -> datetime:
        moment = day - timedelta(days=days_ago)
        while moment.weekday() >= 5:
            moment -= timedelta(days=1)
        return moment.replace(hour=hour, minute=minute)

    html_mention = plan.add(
        "bobby_tables",
        "@fastbrand <script>alert('xss')</script> checkout shows <b>Error</b> & \"null\" - help?",
        weekday_at(3, 10, 12),
    )
    assert html_mention is not None
    plan.answer_once("fastbrand", html_mention, "bobby_tables", timedelta(minutes=7))
    emoji_mention = plan.add(
        "zoe_sunflower", "@fastbrand the new app update is 🔥🔥 love it 🎉🙌", weekday_at(5, 14, 40)
    )
    assert emoji_mention is not None
    plan.answer_once("fastbrand", emoji_mention, "zoe_sunflower", timedelta(minutes=4))
    plan.add(
        "fastbrand", "", plan.at(emoji_mention) + timedelta(minutes=9), retweet_of=emoji_mention
    )
    both = plan.add(
        "sofia_lind",
        "@fastbrand @slowbrand which one of you ships faster to Lisbon? 🤔",
        weekday_at(9, 11, 5),
    )
    assert both is not None
    plan.answer_once("fastbrand", both, "sofia_lind", timedelta(minutes=6))
    plan.answer_once("slowbrand", both, "sofia_lind", timedelta(hours=30))
    plan.add(
        "fastbrand",
        "Big thanks to everyone who came to the @fastbrand pop-up store in Berlin this weekend!",
        weekday_at(12, 9, 30),
    )
    # Brand replies to posts that never mentioned the brand.
    for brand, days_ago in (("fastbrand", 7), ("fastbrand", 20), ("slowbrand", 15)):
        customer = rng.choice(customers)
        question = plan.add(
            customer, plan.fill(rng.choice(_NOISE[:2]), brand), weekday_at(days_ago, 13, 0)
        )
        assert question is not None
        plan.add(
            brand,
            f"@{customer} We can help with that! Check our store finder or DM us.",
            plan.at(question) + timedelta(minutes=35),
            reply_to=question,
        )
    # Ordinary customer chatter, some of it between customers.
    for _ in range(25):
        customer = rng.choice(customers)
        text = plan.fill(rng.choice(_NOISE), "nobody")
        if rng.random() < 0.3:
            text = f"@{rng.choice(customers)} {text}"
        plan.add(customer, text, plan.random_time())
    # Mentions from the last hours that nobody has answered yet.
    for brand, minutes_ago in (("fastbrand", 25), ("fastbrand", 70), ("slowbrand", 140)):
        customer = rng.choice(customers)
        plan.add(
            customer,
            plan.fill(rng.choice(_QUESTIONS), brand),
            now - timedelta(minutes=minutes_ago),
        )
    return plan.posts


def seed_demo_data(sink: DemoSink, now: datetime, seed: int = DEMO_SEED) -> dict[str, str]:
    """Create the demo accounts (brands first) and posts; return ``{username: id}``."""
    now = now.astimezone(UTC).replace(microsecond=0)
    ids = {}
    for username, name in (*BRANDS, *CUSTOMERS):
        ids[username] = sink.add_account(username, name)
    planned = _plan(random.Random(seed), now)
    post_ids: dict[int, str] = {}
    for item in sorted(planned, key=lambda p: (p.at, p.key)):
        post_ids[item.key] = sink.add_post(
            ids[item.author],
            item.text,
            item.at,
            reply_to=post_ids[item.reply_to] if item.reply_to is not None else None,
            retweet_of=post_ids[item.retweet_of] if item.retweet_of is not None else None,
        )
    return ids
