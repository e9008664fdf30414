"""Copy the latest tables from benchmarks/results/*.md into README.md.

Each ``<!-- BENCH:name -->`` ... ``<!-- /BENCH:name -->`` block in the README is
replaced by ``benchmarks/results/name.md`` (its first heading dropped).  Run after
``make bench``; ``deeprelax bench`` calls it too.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the package ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._common import write_text  # noqa: E402


def update(readme: Path = ROOT / "README.md", results: Path = ROOT / "benchmarks" / "results") -> list:
    text = readme.read_text()
    done = []

    def repl(m):
        name = m.group(1)
        src = results / f"{name}.md"
        if not src.exists():
            return m.group(0)
        body = src.read_text().strip().splitlines()
        if body and body[0].startswith("#"):
            body = body[1:]
        done.append(name)
        return f"<!-- BENCH:{name} -->\n" + "\n".join(body).strip() + f"\n<!-- /BENCH:{name} -->"

    new = re.sub(r"<!-- BENCH:([\w-]+) -->.*?<!-- /BENCH:\1 -->", repl, text, flags=re.S)
    write_text(readme, new)
    return done


if __name__ == "__main__":
    print("updated:", ", ".join(update()) or "nothing")
    sys.exit(0)
