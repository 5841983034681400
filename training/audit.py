"""Rank labelled units by how likely their label is wrong (confident learning).

    python -m training.audit                         # frozen MiniLM + logistic regression, 5 article folds
    python -m training.audit --top 300 --random 300 --output runs/audit
    python -m training.audit --out-of-fold-predictions docs/oof/minilm_finetune.jsonl --model minilm_finetune

Out-of-fold probabilities come from a grouped cross-validation (whole articles held out,
so a unit is never scored by a model that saw its article). ``cleanlab``'s
``find_label_issues`` ranks the units whose given stance (and, separately, each topic's
yes/no) the model disagrees with most confidently; a unit's score is the highest of its
stance and topic scores. The output is a review list, not a relabelling: every listed
unit gets a blind third reading by a person (or annotator session) who sees only the
codebook and the unit. A random sample of the other units is drawn beside it, so that
the review measures the base error rate too and never only moves labels towards the
model.

Writes ``<output>/ranked.jsonl`` (every unit, most suspect first, with the model's
guess), ``<output>/review_top.jsonl`` and ``<output>/review_random.jsonl`` (id, doc_id,
sent_idx and text only: what a blind reader may see), and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from model.labels import STANCES, TOPICS
from training.data import LABELS, load_records
from training.out_of_fold import read_out_of_fold_predictions

ROOT = Path(__file__).resolve().parent.parent


def frozen_out_of_fold(texts: list[str], groups: list[str], Y: np.ndarray, s: np.ndarray, n_folds: int = 5,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold topic and stance probabilities of frozen MiniLM embeddings + logistic regression.

    Cheap (one embedding pass, then seconds per fold) and independent of the shipped
    model, so the audit does not inherit the shipped model's own mistakes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    from model.encoder import SentenceEncoder, embed, load_tokenizer

    print(f"embedding {len(texts)} units with frozen MiniLM ...", flush=True)
    X = embed(SentenceEncoder(), load_tokenizer(), texts)
    PT = np.zeros(Y.shape, dtype=float)
    PS = np.zeros((len(texts), len(STANCES)), dtype=float)
    folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(X, s, groups)
    for train, test in folds:
        stance = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(X[train], s[train])
        PS[test] = stance.predict_proba(X[test])
        for k in range(Y.shape[1]):
            if Y[train, k].min() == Y[train, k].max():
                PT[test, k] = Y[train, k].mean()
                continue
            head = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(X[train], Y[train, k])
            PT[test, k] = head.predict_proba(X[test])[:, 1]
    return PT, PS


def issue_scores(Y: np.ndarray, s: np.ndarray, PT: np.ndarray, PS: np.ndarray) -> dict[str, np.ndarray]:
    """Per unit: is the stance / each topic flagged by cleanlab, and its label-quality score (low = suspect)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    out = {
        "stance_issue": find_label_issues(s, PS),
        "stance_quality": get_label_quality_scores(s, PS),
    }
    for k, topic in enumerate(TOPICS):
        probs = np.column_stack([1 - PT[:, k], PT[:, k]])
        out[f"{topic}_issue"] = find_label_issues(Y[:, k], probs)
        out[f"{topic}_quality"] = get_label_quality_scores(Y[:, k], probs)
    return out


def rank_units(records: list[dict], PT: np.ndarray, PS: np.ndarray) -> list[dict]:
    """Every unit with its flags, scores and the model's guess, most suspect first."""
    Y = np.array([[t in r["topics"] for t in TOPICS] for r in records], dtype=int)
    s = np.array([STANCES.index(r["stance"]) for r in records])
    scores = issue_scores(Y, s, PT, PS)
    ranked = []
    for i, r in enumerate(records):
        flagged = [name for name in ["stance", *TOPICS] if scores[f"{name}_issue"][i]]
        quality = min(float(scores[f"{name}_quality"][i]) for name in ["stance", *TOPICS])
        ranked.append({
            "id": r["id"], "doc_id": r["doc_id"], "sent_idx": r["sent_idx"], "text": r["text"],
            "topics": r["topics"], "stance": r["stance"], "flagged": flagged, "label_quality": round(quality, 4),
            "model_stance": STANCES[int(PS[i].argmax())], "model_stance_proba": round(float(PS[i].max()), 3),
            "model_topics": [t for k, t in enumerate(TOPICS) if PT[i, k] >= 0.5],
        })
    # Units cleanlab flags come first, then by label quality (lowest first).
    ranked.sort(key=lambda u: (not u["flagged"], u["label_quality"]))
    return ranked


def review_samples(ranked: list[dict], top: int, n_random: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The ``top`` most suspect units and ``n_random`` units drawn at random from the rest."""
    head, rest = ranked[:top], ranked[top:]
    sample = random.Random(seed).sample(rest, min(n_random, len(rest)))
    return head, sample


def blind(unit: dict) -> dict:
    """What a blind reader may see: the unit, never its label or the model's guess."""
    return {k: unit[k] for k in ("id", "doc_id", "sent_idx", "text")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS, help="label file (default: labels/sentences.jsonl)")
    parser.add_argument("--out-of-fold-predictions", type=Path, default=None,
                        help="use saved out-of-fold probabilities (python -m training.evaluate --predictions FILE) "
                        "instead of fitting frozen MiniLM + LR")
    parser.add_argument("--model", default="minilm_finetune", help="model name in that file")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--top", type=int, default=300, help="most suspect units to review")
    parser.add_argument("--random", type=int, default=300, help="units drawn at random from the rest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "audit")
    args = parser.parse_args(argv)

    records = load_records(args.labels)
    if args.out_of_fold_predictions:
        PT, PS = read_out_of_fold_predictions(args.out_of_fold_predictions, args.model, [r["id"] for r in records])
    else:
        Y = np.array([[t in r["topics"] for t in TOPICS] for r in records], dtype=int)
        s = np.array([STANCES.index(r["stance"]) for r in records])
        PT, PS = frozen_out_of_fold([r["text"] for r in records], [r["doc_id"] for r in records], Y, s,
                                    n_folds=args.folds, seed=args.seed)
    ranked = rank_units(records, PT, PS)
    top, sample = review_samples(ranked, args.top, args.random, args.seed)
    args.output.mkdir(parents=True, exist_ok=True)
    for name, rows in (("ranked", ranked), ("review_top", [blind(u) for u in top]),
                       ("review_random", [blind(u) for u in sample])):
        with open(args.output / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    flagged = sum(bool(u["flagged"]) for u in ranked)
    print(f"{len(ranked)} units; cleanlab flags {flagged} ({flagged / len(ranked):.1%}); "
          f"review lists: {len(top)} top-ranked, {len(sample)} random, in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
