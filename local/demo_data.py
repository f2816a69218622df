"""Deterministic demo accounts and ~60 days of posts for the X emulator.

Same ``seed`` and same ``now`` give identical accounts, texts, times and post ids.

* ``@fastbrand`` answers ~90% of its mentions, within minutes during office hours (Mon-Fri
  09:00-18:00 UTC) and at the next office opening (sometimes an on-call reply within hours)
  outside them. Friday-evening and weekend mentions wait for Monday morning, so figures in
  business hours differ visibly from calendar ones.
* Its care team signs its replies (see :data:`FAST_AGENTS`): Becky ``-Becky`` works
  mornings, AK ``^AK`` middays, Sam (an en dash, a space, ``Sam``) afternoons, TJ ``*TJ``
  the late shift and on call outside office hours, Lena ``~Lena`` the overnight and weekend
  queue at opening, so each has a median of their own. A reply with a link has it after the
  signature (``^AK https://t.co/...``); ~13% of the replies are unsigned.
* ``@slowbrand`` answers about half of its mentions, hours to days later, mostly unsigned
  (a few ``-Dana``).
* ``@quietbrand`` posts a few announcements and is never mentioned.
* ``@heritagebrand`` (:func:`seed_long_history`, only where the whole app runs: the stack)
  is mentioned 1,500 times over three years, beyond X's 800-mention reach, so "Read older
  history" has 700 older posts to read.
* ~30 customers write the mentions; a few other brands (:data:`OTHER_BRANDS`) only appear in
  crowd posts: giveaways, "tag your friends", "which brand is best" posts naming the brand
  among 6-12 other accounts (8 for @fastbrand, 4 for @slowbrand, mostly unanswered; one
  replies to a @fastbrand announcement, so it counts as a mention, and is answered).
* Cases: ~25% of the conversations @fastbrand answered get a customer follow-up ("thanks,
  that worked!") that stays unanswered; some customers post twice in a row ("hello??") and
  the brand answers the second; in a few threads a second customer joins and the brand
  answers each person separately (or one of them not at all).
* The data also includes retweets (customers retweeting brand posts, @fastbrand retweeting a
  customer's praise), a self-mention, brand replies to posts that did not mention the brand,
  replies to announcements, a mention of both brands, a text with ``<script>``/HTML
  characters, texts with emoji, questions with and without ``?``, praise, and a few recent
  mentions still waiting.
"""

from __future__ import annotations

import math
import random
import string
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
# Other brands: only named in crowd posts (giveaways, "which brand is best").
OTHER_BRANDS: tuple[tuple[str, str], ...] = (
    ("megastore", "MegaStore"),
    ("shipfast", "ShipFast Delivery"),
    ("gadgetbarn", "Gadget Barn"),
    ("cozyhome", "Cozy Home"),
    ("urbanthreads", "Urban Threads"),
    ("freshcart", "FreshCart"),
    ("peakgear", "Peak Gear Outdoors"),
    ("brewbuddies", "Brew Buddies ☕"),
)
# @fastbrand's care team: name -> (signature, median minutes to answer in office hours).
FAST_AGENTS: dict[str, tuple[str, float]] = {
    "Becky": ("-Becky", 2.5),  # mornings
    "AK": ("^AK", 7.0),  # middays
    "Sam": ("\u2013 Sam", 11.0),  # afternoons (en dash and a space)
    "TJ": ("*TJ", 8.0),  # late shift, and on call outside office hours
    "Lena": ("~Lena", 5.0),  # the overnight and weekend queue at opening
}
SLOW_SIGNATURE = "-Dana"
FAST_UNSIGNED_SHARE = 0.13
SLOW_SIGNED_SHARE = 0.15

_PRODUCTS = ("headphones", "blender", "running shoes", "backpack", "desk lamp", "smartwatch")
_CITIES = ("Lisbon", "Toronto", "Berlin", "Nairobi", "Osaka", "Austin")
# Questions, each with the answers @fastbrand gives to it (one ending in ":" gets a link).
_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "{b} my order {order} still says processing after 5 days, any update?",
        (
            "@{c} Sorry for the wait! It ships today, you'll get the tracking by e-mail.",
            "@{c} It left our warehouse this morning. You can follow it live here:",
        ),
    ),
    (
        "{b} is the app down? I can't log in since this morning",
        ("@{c} We had a short outage. It's fixed now, please try again and let us know!",),
    ),
    (
        "hey {b} do you ship to {city}?",
        (
            "@{c} Yes, we do! Shipping usually takes 3-5 business days.",
            "@{c} We do! Here are the rates and delivery times:",
        ),
    ),
    (
        "{b} the {product} I got arrived broken. How do I return it?",
        (
            "@{c} So sorry! Here's how to start a return: Account > Orders > Return.",
            "@{c} So sorry about that! Here's how to start a return, step by step:",
        ),
    ),
    (
        "{b} I was charged twice for order {order} 😬",
        ("@{c} So sorry for the trouble. We've refunded the duplicate charge.",),
    ),
    (
        "why is checkout so slow today {b}",
        ("@{c} Thanks for flagging! We found the issue and checkout is back to normal.",),
    ),
    (
        "{b} can I change the delivery address on {order}?",
        ("@{c} Sure! Please DM us the new address and we'll update it.",),
    ),
    (
        "{b} when is the {product} back in stock?",
        ("@{c} It's back next week! You can get a restock alert here:",),
    ),
    (
        "{b} your promo code SPRING20 doesn't work at checkout",
        ("@{c} Sorry about that! The code works again, please give it another try.",),
    ),
    (
        "{b} tracking link for {order} gives a 404",
        (
            "@{c} Sorry! Here's a working link:",
            "@{c} Our team has escalated this. You'll hear from us within the hour.",
        ),
    ),
    (
        "Does anyone else have trouble with the {b} app on Android?",
        ("@{c} We're on it. Update 4.2.1 fixes it, please update and let us know!",),
    ),
    (
        "{b} what's your warranty on the {product}?",
        ("@{c} Two years on all our products. The details are here:",),
    ),
    (
        "{b} still waiting on a refund for {order}. It's been two weeks.",
        ("@{c} Sorry for the delay! We've sent you a DM to sort it out today.",),
    ),
    (
        "{b} how do I delete my account?",
        ("@{c} Sorry to see you go! You can do it under Settings > Account > Delete.",),
    ),
    (
        "{b} I need an invoice for order {order} for my company",
        (
            "@{c} Sure! Please DM us your company details and we'll send it.",
            "@{c} You can download it from your order page:",
        ),
    ),
    (
        "{b} the size guide for the {product} seems off, runs small?",
        ("@{c} Thanks for the heads-up! We're checking the guide. Exchanges are free.",),
    ),
)
_PRAISE = (
    "{b} thanks for sorting out my order so quickly!",
    "shoutout to {b} support, best experience I've had in a while",
    "{b} the new {product} is great, thank you",
)
_FAST_THANKS: tuple[str, ...] = (
    "@{c} Glad to hear it, thanks for the kind words!",
    "@{c} That made our day, thank you! 💙",
)
# Customers replying to an announcement, with @fastbrand's answers.
_ANNOUNCEMENT_REPLIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("{b} finally!", ("@{c} We know, right? Enjoy! 🎉", *_FAST_THANKS)),
    ("{b} does this include {city}?", ("@{c} Yes, it does! All the details are here:",)),
)
# When the first answer did not settle it.
_FAST_REPLIES = (
    "@{c} Sorry about that! Could you DM us your order number so we can check?",
    "@{c} Thanks for bearing with us. We've just sent you a DM with next steps.",
    "@{c} Our team has escalated this. You'll hear from us within the hour.",
)
_SLOW_REPLIES = (
    "@{c} Hi, sorry for the delay. Please contact support@slowbrand.example with details.",
    "@{c} Apologies for the wait. Our team will look into it.",
    "@{c} Thank you for your patience. This should be resolved now.",
    "@{c} Hello! Please send us a DM with your order number.",
)
# After the brand's answer: thanks end the conversation (the brand does not reply to them).
_THANKS_FOLLOW_UPS = (
    "{b} thanks, that worked!",
    "{b} great, thanks a lot!",
    "{b} all sorted now, cheers 🙌",
    "{b} perfect, thank you so much",
    "{b} got it, thanks for the quick reply",
)
_OPEN_FOLLOW_UPS = (
    "{b} still not fixed, sorry 😕",
    "{b} ok but when exactly?",
    "{b} I did that and now it says 'order not found'?",
)
# A second mention in a row, before the brand has answered the first.
_NUDGES = (
    "{b} hello?? anyone there?",
    "{b} order number is {order} btw",
    "{b} any update on this?",
    "{b} also the app now says 'payment failed'",
    "{b} it's kind of urgent, I need it by Friday",
)
# A second customer joining someone else's thread.
_JOINS = (
    "{b} same here! any news?",
    "{b} +1, I'd like to know too",
    "{b} following, I have the same question",
)
# Crowd posts: (text, how many other brands, how many customers) besides the named brands.
_CROWD = (
    ("🎁 GIVEAWAY! Win a {product} from {handles}. Follow them all + RT to enter", (5, 8), (1, 4)),
    ("Which brand has the best customer service? {handles} 👀", (5, 8), (1, 3)),
    ("Huge thanks to the sponsors of our charity run in {city}: {handles} 🙏", (5, 8), (1, 2)),
    ("Black Friday deals so far 🧵 {handles}", (5, 8), (1, 4)),
    ("{handles} who ships to {city} the fastest? asking for a friend", (5, 8), (1, 3)),
    ("{handles} tag your friends! the {product} giveaway ends tonight", (0, 2), (6, 10)),
    ("{handles} who's in for the {city} meetup on Saturday?", (0, 2), (6, 10)),
    ("ok {handles} settle this: best {product} brand?", (1, 2), (5, 9)),
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


@dataclass(frozen=True)
class _Answer:
    """A planned brand reply: how long after the post it answers, and its signature."""

    delay: timedelta
    signature: str | None = None


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


def _fast_only(brand: str, bodies: Sequence[str]) -> Sequence[str] | None:
    """``bodies`` for @fastbrand; None (generic replies) for the slow brand."""
    return bodies if brand == "fastbrand" else None


_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5, 5, 5, 4, 4, 4, 3, 2, 1)


class _Planner:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.start = now - timedelta(days=HISTORY_DAYS)
        self.today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.posts: list[_Planned] = []
        self.customers = [username for username, _ in CUSTOMERS]
        self.other_brands = [username for username, _ in OTHER_BRANDS]

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

    def weekday_at(self, days_ago: int, hour: int, minute: int) -> datetime:
        """``hour:minute`` ``days_ago`` days before today; a Saturday or Sunday moves to Friday."""
        moment = self.today - timedelta(days=days_ago)
        while moment.weekday() >= 5:
            moment -= timedelta(days=1)
        return moment.replace(hour=hour, minute=minute)

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

    def fill(self, template: str, brand: str, handles: str = "") -> str:
        rng = self.rng
        return template.format(
            b=f"@{brand}",
            order=f"#{rng.randrange(10000, 99999)}",
            city=rng.choice(_CITIES),
            product=rng.choice(_PRODUCTS),
            handles=handles,
        )

    def link(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "https://t.co/" + "".join(self.rng.choices(alphabet, k=10))

    # who answers, and when -------------------------------------------------------------
    def shift_agent(self, at: datetime) -> str:
        """The @fastbrand agent on shift at ``at`` (office hours)."""
        rng = self.rng
        if at.hour < 12:
            return "Becky" if rng.random() < 0.75 else "AK"
        if at.hour < 15:
            return "AK" if rng.random() < 0.65 else "Sam"
        return "TJ" if rng.random() < 0.6 else "Sam"

    def fast_agent(self, mention_at: datetime, reply_at: datetime) -> str:
        if not office_hours(reply_at):
            return "TJ"  # on call
        if not office_hours(mention_at):
            return "Lena" if self.rng.random() < 0.92 else "Becky"  # the queue at opening
        return self.shift_agent(mention_at)

    def signature(self, brand: str, agent: str) -> str | None:
        if brand == "fastbrand":
            return None if self.rng.random() < FAST_UNSIGNED_SHARE else FAST_AGENTS[agent][0]
        return SLOW_SIGNATURE if self.rng.random() < SLOW_SIGNED_SHARE else None

    def after(self, brand: str, mention_at: datetime, delay: timedelta) -> _Answer:
        """A reply ``delay`` after a post from ``mention_at``, signed by whoever works then."""
        agent = self.fast_agent(mention_at, mention_at + delay) if brand == "fastbrand" else ""
        return _Answer(delay, self.signature(brand, agent))

    def fast_delay(self, at: datetime, *, always: bool = False) -> _Answer | None:
        rng = self.rng
        if not always and rng.random() < 0.1:
            return None
        if office_hours(at):
            agent = self.shift_agent(at)
            median = FAST_AGENTS[agent][1]
            minutes = min(50.0, max(0.8, rng.lognormvariate(math.log(median), 0.7)))
            return _Answer(timedelta(minutes=minutes), self.signature("fastbrand", agent))
        if rng.random() < 0.2:  # on-call agent
            return self.after("fastbrand", at, timedelta(minutes=rng.uniform(40, 180)))
        delay = (_next_office_open(at) - at) + timedelta(minutes=rng.uniform(4, 90))
        return self.after("fastbrand", at, delay)

    def slow_delay(self, at: datetime, *, always: bool = False) -> _Answer | None:
        rng = self.rng
        if not always and rng.random() < 0.5:
            return None
        hours = min(120.0, max(2.0, rng.lognormvariate(math.log(16), 0.9)))
        return self.after("slowbrand", at, timedelta(hours=hours))

    def delay(self, brand: str, at: datetime, *, always: bool = False) -> _Answer | None:
        if brand == "fastbrand":
            return self.fast_delay(at, always=always)
        return self.slow_delay(at, always=always)

    # brand replies ---------------------------------------------------------------------
    def reply(
        self,
        brand: str,
        post: int,
        customer: str,
        answer: _Answer | None,
        bodies: Sequence[str] | None = None,
    ) -> int | None:
        """The brand's reply to ``post`` (none if ``answer`` is None or it is not due yet).

        Its text is one of ``bodies`` (default: the brand's generic ones), then the signature,
        then a link if the text ends in ``:`` (X shows an attached link last).
        """
        if answer is None:
            return None
        if bodies is None:
            bodies = _FAST_REPLIES if brand == "fastbrand" else _SLOW_REPLIES
        body = self.rng.choice(bodies)
        text = body.format(c=customer)
        if answer.signature:
            text += " " + answer.signature
        if body.endswith(":"):
            text += " " + self.link()
        return self.add(brand, text, self.at(post) + answer.delay, reply_to=post)

    def answer(
        self,
        brand: str,
        mention: int,
        customer: str,
        answer: _Answer | None,
        bodies: Sequence[str] | None,
        *,
        follow_ups: bool = True,
    ) -> None:
        """Reply to ``mention``; the customer may come back in the thread afterwards."""
        reply = self.reply(brand, mention, customer, answer, bodies)
        rng = self.rng
        if reply is None or not follow_ups:
            return
        if rng.random() >= (0.34 if brand == "fastbrand" else 0.2):
            return
        at = self.at(reply) + timedelta(minutes=rng.uniform(5, 240))
        if rng.random() < 0.7:  # thanks: the brand lets the conversation end there
            self.add(customer, self.fill(rng.choice(_THANKS_FOLLOW_UPS), brand), at, reply_to=reply)
            return
        text = self.fill(rng.choice(_OPEN_FOLLOW_UPS), brand)
        follow = self.add(customer, text, at, reply_to=reply)
        if follow is not None and rng.random() < 0.75:
            self.reply(brand, follow, customer, self.delay(brand, at, always=True))

    def mention(self, brand: str, nudge_share: float) -> None:
        """A customer's mention, perhaps a second one before the answer, and the answer."""
        rng = self.rng
        customer = rng.choice(self.customers)
        praise = rng.random() < 0.12
        template, topic = (rng.choice(_PRAISE), _FAST_THANKS) if praise else rng.choice(_QUESTIONS)
        bodies = _fast_only(brand, topic)
        at = self.random_time()
        mention = self.add(customer, self.fill(template, brand), at)
        assert mention is not None
        answer = self.delay(brand, at)
        if praise or rng.random() >= nudge_share:
            self.answer(brand, mention, customer, answer, bodies, follow_ups=not praise)
            return
        # The customer writes again in their own thread; the brand answers that one.
        if answer is None:
            gap = timedelta(hours=rng.uniform(2, 30))
        elif answer.delay >= timedelta(minutes=3):
            gap = answer.delay * rng.uniform(0.2, 0.7)
        else:
            self.answer(brand, mention, customer, answer, bodies)
            return
        nudge = self.add(
            customer, self.fill(rng.choice(_NUDGES), brand), at + gap, reply_to=mention
        )
        if nudge is None or answer is None:
            return
        self.answer(brand, nudge, customer, _Answer(answer.delay - gap, answer.signature), bodies)

    def two_customer_thread(self, brand: str, answer_first: bool, answer_second: bool) -> None:
        """A second customer joins a thread; the brand answers each of them separately."""
        rng = self.rng
        first, second = rng.sample(self.customers, 2)
        at = self.random_time()
        template, topic = rng.choice(_QUESTIONS)
        bodies = _fast_only(brand, topic)
        mention = self.add(first, self.fill(template, brand), at)
        assert mention is not None
        joined_at = at + timedelta(minutes=rng.uniform(2, 180))
        join = self.add(
            second, f"@{first} " + self.fill(rng.choice(_JOINS), brand), joined_at, reply_to=mention
        )
        if answer_first:
            self.reply(brand, mention, first, self.delay(brand, at, always=True), bodies)
        if join is not None and answer_second:
            self.reply(brand, join, second, self.delay(brand, joined_at, always=True), bodies)

    def crowd_text(self, brands: Sequence[str], author: str) -> str:
        """A post naming ``brands`` among 6-12 other accounts."""
        rng = self.rng
        template, other_brands, customers = rng.choice(_CROWD)
        named = [
            *brands,
            *rng.sample(self.other_brands, rng.randint(*other_brands)),
            *rng.sample([c for c in self.customers if c != author], rng.randint(*customers)),
        ]
        while len(named) - len(brands) < 6:
            extra = rng.choice(self.customers)
            if extra != author and extra not in named:
                named.append(extra)
        rng.shuffle(named)
        return self.fill(template, brands[0], " ".join(f"@{h}" for h in named))


# The plan's phases, in the order _plan runs them. Each draws from the shared RNG, so their
# order (and the order of draws inside each) fixes every text, time and id.
def _announcements(plan: _Planner) -> dict[str, list[int]]:
    """Brand announcements (own posts that are not replies), oldest first per brand."""
    announcements: dict[str, list[int]] = {}
    for brand, count in (("fastbrand", 16), ("slowbrand", 8), ("quietbrand", 6)):
        keys = []
        for _ in range(count):
            text = plan.fill(plan.rng.choice(_ANNOUNCEMENTS[brand]), brand)
            key = plan.add(brand, text, plan.random_time(office=True))
            if key is not None:
                keys.append(key)
        announcements[brand] = sorted(keys, key=plan.at)
    return announcements


def _customer_mentions(plan: _Planner) -> None:
    """Customer mentions and the brands' answers."""
    for brand, count, nudge_share in (("fastbrand", 196, 0.08), ("slowbrand", 104, 0.1)):
        for _ in range(count):
            plan.mention(brand, nudge_share)


def _announcement_replies(plan: _Planner, announcements: dict[str, list[int]]) -> None:
    """Customers replying to brand announcements (replies mention the brand)."""
    rng = plan.rng
    for brand, count in (("fastbrand", 10), ("slowbrand", 4)):
        for _ in range(count):
            parent = rng.choice(announcements[brand])
            customer = rng.choice(plan.customers)
            at = plan.at(parent) + timedelta(minutes=rng.uniform(3, 600))
            template, topic = rng.choice(_ANNOUNCEMENT_REPLIES)
            bodies = _fast_only(brand, topic)
            reply = plan.add(customer, plan.fill(template, brand), at, reply_to=parent)
            if reply is not None:
                plan.answer(brand, reply, customer, plan.delay(brand, at), bodies)


def _retweets(plan: _Planner, announcements: dict[str, list[int]]) -> None:
    """Retweets: customers retweet brand posts (@fastbrand's retweet is in _emoji_mention)."""
    rng = plan.rng
    for brand, count in (("fastbrand", 4), ("slowbrand", 1)):
        for original in rng.sample(announcements[brand], count):
            at = plan.at(original) + timedelta(minutes=rng.uniform(10, 300))
            plan.add(rng.choice(plan.customers), "", at, retweet_of=original)


def _two_customer_threads(plan: _Planner) -> None:
    """Threads a second customer joins; (answer the first, answer the second) per thread."""
    for brand, answered in (
        ("fastbrand", ((True, True), (True, True), (True, False), (False, True), (True, True))),
        ("slowbrand", ((True, True), (True, False))),
    ):
        for answer_first, answer_second in answered:
            plan.two_customer_thread(brand, answer_first, answer_second)


def _crowd_posts(plan: _Planner) -> None:
    """Crowd posts naming the brand among many accounts; @fastbrand answers the first anyway."""
    rng = plan.rng
    for brands, count in (
        (("fastbrand",), 6),
        (("slowbrand",), 3),
        (("fastbrand", "slowbrand"), 1),
    ):
        for number in range(count):
            author = rng.choice(plan.customers)
            at = plan.random_time()
            crowd = plan.add(author, plan.crowd_text(brands, author), at)
            if crowd is not None and brands == ("fastbrand",) and number == 0:
                plan.reply(
                    "fastbrand",
                    crowd,
                    author,
                    plan.delay("fastbrand", at, always=True),
                    ("@{c} Thanks for the shoutout, that's lovely to hear!",),
                )


def _crowd_reply(plan: _Planner, fast_announcements: list[int]) -> None:
    """A crowd reply to an announcement: it replies to @fastbrand, so it is a mention to answer."""
    rng = plan.rng
    parent = fast_announcements[len(fast_announcements) // 3]
    author = rng.choice(plan.customers)
    friends = rng.sample([c for c in plan.customers if c != author], 7)
    at = plan.at(parent) + timedelta(minutes=rng.uniform(20, 200))
    crowd_reply = plan.add(
        author,
        "@fastbrand " + " ".join(f"@{f}" for f in friends) + " look!! who's in? 🛍️",
        at,
        reply_to=parent,
    )
    if crowd_reply is not None:
        plan.reply(
            "fastbrand",
            crowd_reply,
            author,
            plan.delay("fastbrand", at, always=True),
            ("@{c} Love it, happy shopping everyone! 🛍️",),
        )


def _weekend_mentions(plan: _Planner) -> None:
    """Friday-evening and weekend mentions @fastbrand answers on Monday morning."""
    rng = plan.rng
    for weeks_ago in (1, 2):
        friday = plan.today - timedelta(days=(plan.today.weekday() - 4) % 7 + 7 * weeks_ago)
        monday = friday + timedelta(days=3)
        for days, hour, minute in ((0, 18, 25), (0, 21, 40), (1, 10, 15), (2, 19, 5)):
            customer = rng.choice(plan.customers)
            at = (friday + timedelta(days=days)).replace(hour=hour, minute=minute)
            template, bodies = rng.choice(_QUESTIONS)
            weekend = plan.add(customer, plan.fill(template, "fastbrand"), at)
            assert weekend is not None
            reply_at = monday.replace(hour=9) + timedelta(minutes=rng.uniform(3, 75))
            answer = plan.after("fastbrand", at, reply_at - at)
            plan.answer("fastbrand", weekend, customer, answer, bodies)


def _html_mention(plan: _Planner) -> None:
    """A mention full of ``<script>``/HTML characters, answered within 7 minutes."""
    html_mention = plan.add(
        "bobby_tables",
        "@fastbrand <script>alert('xss')</script> checkout shows <b>Error</b> & \"null\" - help?",
        plan.weekday_at(3, 10, 12),
    )
    assert html_mention is not None
    seven = plan.after("fastbrand", plan.at(html_mention), timedelta(minutes=7))
    bodies = ("@{c} Sorry about that! We've fixed the checkout error, please try again.",)
    plan.reply("fastbrand", html_mention, "bobby_tables", seven, bodies)


def _emoji_mention(plan: _Planner) -> None:
    """Praise with emoji, which @fastbrand thanks for and retweets."""
    emoji_mention = plan.add(
        "zoe_sunflower",
        "@fastbrand the new app update is 🔥🔥 love it 🎉🙌",
        plan.weekday_at(5, 14, 40),
    )
    assert emoji_mention is not None
    four = plan.after("fastbrand", plan.at(emoji_mention), timedelta(minutes=4))
    plan.reply("fastbrand", emoji_mention, "zoe_sunflower", four, _FAST_THANKS)
    plan.add(
        "fastbrand", "", plan.at(emoji_mention) + timedelta(minutes=9), retweet_of=emoji_mention
    )


def _mention_of_both_brands(plan: _Planner) -> None:
    """One post mentioning both brands; each answers it, at its own pace."""
    both = plan.add(
        "sofia_lind",
        "@fastbrand @slowbrand which one of you ships faster to Lisbon? 🤔",
        plan.weekday_at(9, 11, 5),
    )
    assert both is not None
    six = plan.after("fastbrand", plan.at(both), timedelta(minutes=6))
    plan.reply("fastbrand", both, "sofia_lind", six, ("@{c} Us, of course! 2-3 days to Lisbon 😉",))
    thirty = plan.after("slowbrand", plan.at(both), timedelta(hours=30))
    plan.reply("slowbrand", both, "sofia_lind", thirty)


def _self_mention(plan: _Planner) -> None:
    """@fastbrand naming itself in its own post (not a mention to answer)."""
    plan.add(
        "fastbrand",
        "Big thanks to everyone who came to the @fastbrand pop-up store in Berlin this weekend!",
        plan.weekday_at(12, 9, 30),
    )


def _unprompted_replies(plan: _Planner) -> None:
    """Brand replies to posts that never mentioned the brand."""
    rng = plan.rng
    for brand, days_ago in (("fastbrand", 7), ("fastbrand", 20), ("slowbrand", 15)):
        customer = rng.choice(plan.customers)
        question = plan.add(
            customer, plan.fill(rng.choice(_NOISE[:2]), brand), plan.weekday_at(days_ago, 13, 0)
        )
        assert question is not None
        plan.reply(
            brand,
            question,
            customer,
            plan.after(brand, plan.at(question), timedelta(minutes=35)),
            ("@{c} We can help with that! Check our store finder or DM us.",),
        )


def _chatter(plan: _Planner) -> None:
    """Ordinary customer chatter, some of it between customers."""
    rng = plan.rng
    for _ in range(25):
        customer = rng.choice(plan.customers)
        text = plan.fill(rng.choice(_NOISE), "nobody")
        if rng.random() < 0.3:
            text = f"@{rng.choice(plan.customers)} {text}"
        plan.add(customer, text, plan.random_time())


def _waiting_mentions(plan: _Planner) -> None:
    """Mentions from the last hours that nobody has answered yet."""
    rng = plan.rng
    for brand, minutes_ago in (("fastbrand", 25), ("fastbrand", 70), ("slowbrand", 140)):
        customer = rng.choice(plan.customers)
        plan.add(
            customer,
            plan.fill(rng.choice(_QUESTIONS)[0], brand),
            plan.now - timedelta(minutes=minutes_ago),
        )


def _plan(rng: random.Random, now: datetime) -> list[_Planned]:
    """Every demo post, planned in a fixed order of phases (see above)."""
    plan = _Planner(rng, now)
    announcements = _announcements(plan)
    _customer_mentions(plan)
    _announcement_replies(plan, announcements)
    _retweets(plan, announcements)
    _two_customer_threads(plan)
    _crowd_posts(plan)
    _crowd_reply(plan, announcements["fastbrand"])
    # Fixed specials, placed relative to now so the UI always has them.
    _weekend_mentions(plan)
    _html_mention(plan)
    _emoji_mention(plan)
    _mention_of_both_brands(plan)
    _self_mention(plan)
    _unprompted_replies(plan)
    _chatter(plan)
    _waiting_mentions(plan)
    return plan.posts


# A brand mentioned for years, beyond X's 800-mention reach: "Read older history" has
# something to read. Seeded where the whole app runs (the stack), not in every test's X.
LONG_HISTORY_BRAND = ("heritagebrand", "Heritage Goods")
LONG_HISTORY_MENTIONS = 1_500
LONG_HISTORY_DAYS = 3 * 365


def seed_long_history(
    sink: DemoSink, now: datetime, customers: dict[str, str], seed: int = DEMO_SEED
) -> str:
    """@heritagebrand: 1,500 mentions by the demo customers over three years (newest an hour
    ago), about 60% answered 1 to 30 hours later; returns its id. `customers`: username ->
    id, as seed_demo_data returned them."""
    rng = random.Random(seed + 1)
    brand = sink.add_account(*LONG_HISTORY_BRAND)
    names = [username for username, _ in CUSTOMERS]
    now = now.astimezone(UTC).replace(microsecond=0)
    step = timedelta(days=LONG_HISTORY_DAYS) / LONG_HISTORY_MENTIONS
    for n in range(LONG_HISTORY_MENTIONS):
        at = now - timedelta(hours=1) - step * (LONG_HISTORY_MENTIONS - 1 - n)
        at -= timedelta(minutes=rng.randint(0, 240))
        customer = rng.choice(names)
        product = rng.choice(_PRODUCTS)
        mention = sink.add_post(
            customers[customer], f"@heritagebrand is the {product} still made in Leeds?", at
        )
        answer_at = at + timedelta(hours=rng.uniform(1, 30))
        if rng.random() < 0.6 and answer_at < now:
            sink.add_post(
                brand,
                f"@{customer} it is, in the same workshop since 1962.",
                answer_at,
                reply_to=mention,
            )
    return brand


def seed_demo_data(sink: DemoSink, now: datetime, seed: int = DEMO_SEED) -> dict[str, str]:
    """Create the demo accounts (brands first) and posts; return ``{username: id}``."""
    now = now.astimezone(UTC).replace(microsecond=0)
    ids = {}
    for username, name in (*BRANDS, *CUSTOMERS, *OTHER_BRANDS):
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
