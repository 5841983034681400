"""Agreement between the two independent annotation passes, and what adjudication changed.

    python -m training.agreement            # the first passes (88 articles), as in labels/README.md
    python -m training.agreement --a labels/annotations/more_a.jsonl --b labels/annotations/more_b.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from sklearn.metrics import cohen_kappa_score, confusion_matrix

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


def _raw_agreement(first: list, second: list) -> float:
    return round(sum(x == y for x, y in zip(first, second)) / len(first), 3)


def agreement(a: list[dict], b: list[dict]) -> dict:
    """Kappa and raw agreement per topic (yes/no) and for stance, over the units both passes labelled."""
    by_key_b = {_key(record): record for record in b}
    pairs = [(record, by_key_b[_key(record)]) for record in a if _key(record) in by_key_b]
    out = {"n": len(pairs), "topics": {}, "stance": {}}
    for topic in TOPICS:
        yes_a = [topic in first["topics"] for first, _ in pairs]
        yes_b = [topic in second["topics"] for _, second in pairs]
        out["topics"][topic] = {"kappa": round(cohen_kappa(yes_a, yes_b), 3), "raw": _raw_agreement(yes_a, yes_b),
                                "yes_a": sum(yes_a), "yes_b": sum(yes_b)}
    stance_a = [first["stance"] for first, _ in pairs]
    stance_b = [second["stance"] for _, second in pairs]
    out["stance"] = {"kappa": round(cohen_kappa(stance_a, stance_b), 3), "raw": _raw_agreement(stance_a, stance_b),
                     "confusion_a_rows_b_cols": confusion_matrix(stance_a, stance_b, labels=list(STANCES)).tolist()}
    out["all_topics_exact"] = round(sum(first["topics"] == second["topics"] for first, second in pairs) / len(pairs), 3)
    out["units_with_any_disagreement"] = sum(first["topics"] != second["topics"] or first["stance"] != second["stance"]
                                             for first, second in pairs)
    return out


def adjudication_changes(final: list[dict], a: list[dict], b: list[dict]) -> dict:
    """How the adjudicated labels relate to each pass: kept A, kept B, or a third reading.

    Only units both passes labelled count: the label file holds several batches of passes.
    """
    by_key_a, by_key_b = {_key(record): record for record in a}, {_key(record): record for record in b}
    counts = Counter()
    for record in final:
        if _key(record) not in by_key_a or _key(record) not in by_key_b:
            continue  # a unit of another batch of passes
        first, second = by_key_a[_key(record)], by_key_b[_key(record)]
        for field in ("topics", "stance"):
            if first[field] == second[field]:
                counts[f"{field}: passes agreed, {'kept' if record[field] == first[field] else 'changed'}"] += 1
            elif record[field] == first[field]:
                counts[f"{field}: disagreement, pass A's reading"] += 1
            elif record[field] == second[field]:
                counts[f"{field}: disagreement, pass B's reading"] += 1
            else:
                counts[f"{field}: disagreement, a third reading"] += 1
    return dict(sorted(counts.items()))


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
