#!/usr/bin/env python
"""How far each int8 twin is from its float model in every committed table of docs/eval (issue 16's quality
target: at most 0.15 dB below at any density of any table). Reads the tables' summary.json; runs nothing.

    python scripts/int8_gap.py                 # every <name>-int8 row beside its <name> row
    python scripts/int8_gap.py --metric ssim
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cards import INT8_SUFFIX

ROOT = Path(__file__).resolve().parent.parent


def gaps(tables: Path, metric: str) -> list[tuple[str, str, str, str, float, float]]:
    """(table, noise, twin, density, float score, twin - float) for every twin row that has a float row."""
    rows = []
    for summary_path in sorted(tables.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())["summary"]
        for noise, by_method in summary.items():
            for twin, scores in by_method.items():
                base = twin.removesuffix(INT8_SUFFIX)
                if base == twin or base not in by_method:
                    continue
                for density, cell in scores.items():
                    reference = by_method[base][density][metric]
                    rows.append((summary_path.parent.name, noise, twin, density, reference, cell[metric] - reference))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=Path, default=ROOT / "docs" / "eval")
    parser.add_argument("--metric", choices=["psnr", "ssim"], default="psnr")
    args = parser.parse_args()
    rows = gaps(args.tables, args.metric)
    if not rows:
        raise SystemExit(f"no <name>-int8 rows beside their float model's in {args.tables}")
    for table, noise, twin, density, reference, gap in rows:
        print(f"{table:28s} {noise:12s} {twin:20s} {density:>7s} {reference:8.3f} {gap:+.3f}")
    worst = min(rows, key=lambda r: r[5])
    print(f"{len(rows)} cells; largest drop {worst[5]:+.3f} ({worst[0]}, {worst[1]}, density {worst[3]}); "
          f"largest gain {max(r[5] for r in rows):+.3f}")


if __name__ == "__main__":
    main()
