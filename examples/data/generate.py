"""Write the examples' datasets: synthetic, deterministic, small.

Every row is invented by seeded generators (fixed random seeds, templates and word lists):
nothing comes from real customers or real tickets. Running this again writes byte-identical
files.

- ``support_emails.jsonl``: Tasty Bytes support emails (``cortex_tune.sample_data``).
- ``support_tickets.jsonl``: telecom tickets with their true category (``cortex_tune.sample_data``).
- ``teacher_tickets.jsonl``: what the offline stand-in for llama3.1-405b answers when
  ``examples/synthetic_distillation.py`` asks it to write tickets for a category, some of
  them deliberately off-topic so that the judge has something to reject.

    python examples/data/generate.py            # writes next to this script
    python examples/data/generate.py OUT_DIR    # writes into OUT_DIR
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cortex_tune.sample_data import support_emails, support_tickets

HERE = Path(__file__).resolve().parent

# fmt: off
PHRASES = {
    "Roaming fees": ["I was charged roaming fees in Spain", "my bill has international charges from my trip", "my travel pass did not work abroad", "data roaming in Canada cost me a fortune", "I got a roaming charge while on a cruise"],
    "Slow data speed": ["my mobile data is very slow", "videos keep buffering on my phone", "my 4G speed dropped to almost nothing", "web pages take minutes to load on data", "my internet speed is slow since the upgrade"],
    "Lost phone": ["I lost my phone on the train", "my phone was stolen last night", "I need to block my SIM card after losing my phone", "I can't find my phone anywhere", "someone took my phone at the gym"],
    "Add new line": ["I want to add a line for my daughter", "I need a second phone line on my plan", "please add a new line to the family plan", "can I get an extra line for my tablet", "my son needs his own line"],
    "Closing account": ["I want to close my account", "please cancel my contract this month", "I am switching providers and leaving", "terminate my service when the contract ends", "how do I cancel my account online"],
}
OPENERS = ["Hi,", "Hello,", "Good morning,", "Urgent:", "Please help,"]
CLOSERS = ["What can you do?", "Please call me back.", "Thanks.", "I need this fixed today.", ""]
OFF_TOPIC = ["Can you recommend a good pizza place?", "My toaster is broken.", "asdf asdf", "hello"]
# fmt: on


def teacher_tickets(per_category: int = 25, *, seed: int = 405) -> list[dict[str, Any]]:
    """Distinct invented tickets per category, about one in eight off-topic."""
    rng = random.Random(seed)
    rows = []
    for category, phrases in PHRASES.items():
        seen: set[str] = set()
        while len(seen) < per_category:
            if rng.random() < 0.12:
                request, scenario = rng.choice(OFF_TOPIC), "an off-topic message"
            else:
                phrase = rng.choice(phrases)
                request = f"{rng.choice(OPENERS)} {phrase}. {rng.choice(CLOSERS)}".strip()
                scenario = f"a customer writes in about {category.lower()}"
            if request not in seen:
                seen.add(request)
                rows.append({"category": category, "scenario": scenario, "request": request})
    return rows


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object a line (UTF-8, ``\\n`` line ends); return the row count."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)


def main(out_dir: Path = HERE) -> dict[str, int]:
    """Write the three files into ``out_dir``; return their row counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets = {
        "support_emails.jsonl": support_emails(),
        "support_tickets.jsonl": support_tickets(),
        "teacher_tickets.jsonl": teacher_tickets(),
    }
    counts = {name: write_jsonl(out_dir / name, rows) for name, rows in datasets.items()}
    for name, n in counts.items():
        print(f"wrote {n} synthetic rows to {out_dir / name}")
    return counts


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
