"""How long the sentence splitter takes on large inputs (it must grow linearly).

    python benchmarks/splitter.py            # 100 KB, 2 MB and 20 MB built from the corpus
    python benchmarks/splitter.py --sizes 100000 400000

The texts are the corpus articles joined and repeated to the size asked for, so they hold
real sentences, headings and furniture. Prints one line per size and writes
``benchmarks/splitter.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from model.text import split_sentences

ROOT = Path(__file__).resolve().parent.parent


def corpus_text(size: int) -> str:
    """``size`` characters of corpus articles, joined by blank lines and repeated."""
    base = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus" / "articles").glob("*.txt")))
    return (base * (size // len(base) + 1))[:size]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 2_000_000, 20_000_000])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "splitter.json")
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        text = corpus_text(size)
        start = time.perf_counter()
        units = split_sentences(text)
        seconds = time.perf_counter() - start
        rows.append({"characters": size, "units": len(units), "seconds": round(seconds, 2),
                     "characters_per_second": round(size / seconds)})
        print(f"{size:>11,} characters  {len(units):>8,} units  {seconds:7.2f} s  {size / seconds:>12,.0f} chars/s")
    args.output.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
