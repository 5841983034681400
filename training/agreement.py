"""Agreement between the two independent annotation passes, and what adjudication changed.

    python -m training.agreement            # prints the tables used in labels/README.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from model.labels import STANCES, TOPICS
from training.data import LABELS, read_jsonl

ANNOTATIONS = LABELS.parent / "annotations"


def cohen_kappa(a: list, b: list) -> float:
    """Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) for two raters' labels of the same items.

    Two raters who give every item the same single label agree perfectly: 1.0 (scikit-learn
    leaves that case undefined). No items: NaN.
    """
    if not a:
        return float("nan")
    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(cohen_kappa_score(a, b))


def _key(r: dict) -> tuple[str, int]:
    return r["doc_id"], r["sent_idx"]


def agreement(a: list[dict], b: list[dict]) -> dict:
    """Kappa and raw agreement per topic (yes/no) and for stance, over the units both passes labelled."""
    bm = {_key(r): r for r in b}
    pairs = [(r, bm[_key(r)]) for r in a if _key(r) in bm]
    out = {"n": len(pairs), "topics": {}, "stance": {}}
    for t in TOPICS:
        x = [t in p["topics"] for p, _ in pairs]
        y = [t in q["topics"] for _, q in pairs]
        out["topics"][t] = {"kappa": round(cohen_kappa(x, y), 3), "raw": round(sum(i == j for i, j in zip(x, y)) / len(x), 3),
                            "yes_a": sum(x), "yes_b": sum(y)}
    x = [p["stance"] for p, _ in pairs]
    y = [q["stance"] for _, q in pairs]
    out["stance"] = {"kappa": round(cohen_kappa(x, y), 3), "raw": round(sum(i == j for i, j in zip(x, y)) / len(x), 3),
                     "confusion_a_rows_b_cols": [[sum(1 for i, j in zip(x, y) if i == s and j == u) for u in STANCES]
                                                 for s in STANCES]}
    out["all_topics_exact"] = round(sum(p["topics"] == q["topics"] for p, q in pairs) / len(pairs), 3)
    out["units_with_any_disagreement"] = sum(p["topics"] != q["topics"] or p["stance"] != q["stance"] for p, q in pairs)
    return out


def adjudication_changes(final: list[dict], a: list[dict], b: list[dict]) -> dict:
    """How the adjudicated labels relate to each pass: kept A, kept B, or a third reading."""
    am, bm = {_key(r): r for r in a}, {_key(r): r for r in b}
    c = Counter()
    for r in final:
        ra, rb = am[_key(r)], bm[_key(r)]
        for field in ("topics", "stance"):
            if ra[field] == rb[field]:
                c[f"{field}: passes agreed, kept" if r[field] == ra[field] else f"{field}: passes agreed, changed"] += 1
            elif r[field] == ra[field]:
                c[f"{field}: disagreement, pass A's reading"] += 1
            elif r[field] == rb[field]:
                c[f"{field}: disagreement, pass B's reading"] += 1
            else:
                c[f"{field}: disagreement, a third reading"] += 1
    return dict(sorted(c.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--a", default=str(ANNOTATIONS / "a.jsonl"))
    parser.add_argument("--b", default=str(ANNOTATIONS / "b.jsonl"))
    parser.add_argument("--final", default=str(LABELS))
    args = parser.parse_args(argv)
    a, b = read_jsonl(args.a), read_jsonl(args.b)
    report = {"agreement": agreement(a, b)}
    if Path(args.final).exists():
        report["adjudication"] = adjudication_changes(read_jsonl(args.final), a, b)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
