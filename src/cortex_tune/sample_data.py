"""Small, deterministic, synthetic datasets shaped like the ones in Snowflake's fine-tuning guides.

Everything here is invented (a fixed random seed, templates and word lists); nothing comes
from real customers. The demo and the examples use these rows so that they run offline, and
they are a quick way to try cortex-tune on data of the right shape.

Example:
    >>> from cortex_tune.sample_data import keyword_labeller, support_tickets
    >>> ticket = support_tickets(1)[0]
    >>> sorted(ticket)
    ['CATEGORY', 'REQUEST', 'TICKET_ID']
    >>> keyword_labeller("I lost my phone on the bus")
    'Lost phone'
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = [
    "CATEGORIES",
    "CITIES",
    "ITEMS",
    "TRUCKS",
    "keyword_labeller",
    "support_emails",
    "support_tickets",
]

#: The food trucks that :func:`support_emails` mentions.
TRUCKS = [
    "Freezing Point",
    "Kitakata Ramen Bar",
    "Smoky BBQ",
    "Guac n' Roll",
    "The Mac Shack",
]
#: The cities that :func:`support_emails` mentions.
CITIES = ["Toronto", "Boston", "Denver", "Sydney"]
#: The menu items that :func:`support_emails` mentions.
ITEMS = ["ramen", "tacos", "brisket", "crepes", "mac and cheese", "ice cream", "dumplings"]

_EMAIL_OPENERS = [
    "Hi team,",
    "Hello,",
    "Dear Tasty Bytes,",
    "To whom it may concern,",
    "Hey there,",
]
_COMPLAINTS = [
    "my order of {item} was cold when I got it",
    "I was charged twice for the {item}",
    "the {item} I ordered never arrived",
    "the staff forgot part of my {item} order",
    "I waited forty minutes for my {item}",
]
_CLOSERS = ["Please help.", "Can you refund me?", "Thanks.", "I'd like this fixed.", "Regards."]


def support_emails(n: int = 400, *, seed: int = 7) -> list[dict[str, Any]]:
    """Customer-support emails to a food-truck company, labelled with truck and city.

    Each row has ``ID``, ``BODY``, ``LABELED_TRUCK`` and ``LABELED_LOCATION`` (None when the
    email does not say) and ``GOLDEN_JSON``: the completion a fine-tuned agent should give,
    ``{"truck": ..., "location": ...}`` with nulls for what is missing.

    Args:
        n: How many emails.
        seed: The random seed; the same seed gives the same rows.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        truck = rng.choice(TRUCKS) if rng.random() < 0.8 else None
        city = rng.choice(CITIES) if rng.random() < 0.75 else None
        complaint = rng.choice(_COMPLAINTS).format(item=rng.choice(ITEMS))
        where = []
        if truck:
            where.append(f"at the {truck} truck")
        if city:
            where.append(f"in {city}")
        place = (" " + " ".join(where)) if where else ""
        body = f"{rng.choice(_EMAIL_OPENERS)} Yesterday{place} {complaint}. {rng.choice(_CLOSERS)}"
        rows.append(
            {
                "ID": i,
                "BODY": body,
                "LABELED_TRUCK": truck,
                "LABELED_LOCATION": city,
                "GOLDEN_JSON": json.dumps({"truck": truck, "location": city}),
            }
        )
    return rows


#: The categories of :func:`support_tickets`, each with the phrases that signal it.
CATEGORIES = {
    "Roaming fees": ["roaming", "abroad", "international charges", "travel pass"],
    "Slow data speed": ["slow internet", "data speed", "buffering", "4G is crawling"],
    "Add new line": ["add a line", "new line for my son", "second phone", "family plan line"],
    "Closing account": [
        "cancel my account",
        "close my account",
        "switching providers",
        "terminate",
    ],
    "Lost phone": ["lost my phone", "phone was stolen", "can't find my phone", "block my SIM"],
    "Billing dispute": ["overcharged", "wrong bill", "charged twice", "bill is too high"],
}
_TICKET_FRAMES = [
    "Hello, {phrase} and I need help with it as soon as possible.",
    "I am writing because {phrase}. What can you do?",
    "Urgent: {phrase}. Please call me back.",
    "My name is {name}; {phrase}, please advise.",
    "Since last week {phrase}. This is frustrating.",
]
_NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana"]


def support_tickets(n: int = 300, *, seed: int = 11) -> list[dict[str, Any]]:
    """Telecom support tickets with ``TICKET_ID``, ``REQUEST`` and the true ``CATEGORY``.

    The category (one of :data:`CATEGORIES`) is what a careful labeller would assign; the
    examples label the tickets with a (stand-in) large model and compare.

    Args:
        n: How many tickets.
        seed: The random seed; the same seed gives the same rows.
    """
    rng = random.Random(seed)
    names = list(CATEGORIES)
    rows = []
    for i in range(1, n + 1):
        category = rng.choice(names)
        phrase = rng.choice(CATEGORIES[category])
        frame = rng.choice(_TICKET_FRAMES)
        rows.append(
            {
                "TICKET_ID": i,
                "REQUEST": frame.format(phrase=phrase, name=rng.choice(_NAMES)),
                "CATEGORY": category,
            }
        )
    return rows


def keyword_labeller(text: str) -> str:
    """A deterministic stand-in for a large model that labels a ticket by its keywords.

    It is right when the ticket uses a category's phrase, and guesses "Billing dispute"
    otherwise; the examples say plainly that it stands in for a real large model.
    """
    lowered = text.lower()
    for category, phrases in CATEGORIES.items():
        if any(p.lower() in lowered for p in phrases):
            return category
    return "Billing dispute"
