"""docs/results.md with every benchmark's table inserted: the tables are rendered from the committed
JSON by the benchmark that measures them (each writes `results/<table>.md` after its run).

    python benchmarks/results_doc.py           # re-render every table and insert it
    python benchmarks/results_doc.py --check   # exit 1 if a table differs from its JSON

A table sits in the document between `<!-- table: NAME -->` and `<!-- end -->`; the text around it
is written by hand. `tests/test_results_doc.py` runs the check, so a figure in the document is
always the committed result, never a retyped one.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import ablation
import baselines
import gpu
import latency
import latency_model
import planted
import several_targets
import train_step
from common import RESULTS, Tables, write_text

DOC = Path(__file__).resolve().parents[1] / "docs" / "results.md"
TABLES: Tables = {**latency.TABLES, **latency_model.TABLES, **several_targets.TABLES, **gpu.TABLES,
                  **ablation.TABLES, **train_step.TABLES, **baselines.TABLES, **planted.TABLES}
BLOCK = re.compile(r"(<!-- table: ([\w-]+) -->\n)(.*?)(<!-- end -->)", re.S)


def insert(text: str, tables: dict[str, str]) -> str:
    """`text` with every table block holding its rendering."""

    def fill(m: re.Match) -> str:
        if m.group(2) not in tables:
            raise KeyError(f"docs/results.md names an unknown table {m.group(2)!r}; "
                           f"known: {', '.join(tables)}")
        return m.group(1) + tables[m.group(2)] + m.group(4)

    return BLOCK.sub(fill, text)


def rendered() -> dict[str, str]:
    return {name: "\n".join(render()) + "\n" for name, render in TABLES.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="exit 1 if a table or the page differs")
    args = p.parse_args()
    text, tables = DOC.read_text(), rendered()
    written = {name: (RESULTS / f"{name}.md").read_text() if (RESULTS / f"{name}.md").is_file() else None
               for name in tables}
    if args.check:
        stale = [name for name in tables if written[name] != tables[name]]
        if stale or insert(text, tables) != text:
            print(f"{DOC} or the tables {', '.join(stale) or '(none)'} differ from the results: "
                  "run python benchmarks/results_doc.py")
            return 1
        return 0
    for name, lines in tables.items():  # as each benchmark writes them, without rendering twice
        write_text(RESULTS / f"{name}.md", lines)
    DOC.write_text(insert(text, tables))
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
