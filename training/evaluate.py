"""Grouped cross-validation of every model on the same folds; a JSON report and a Markdown table.

Folds are by article: no sentence of a test article is in training. Exact duplicate
sentences are removed from each training fold, and so is any training sentence whose
text also occurs in the test fold (several articles quote the same words). Every
threshold and temperature is chosen without the test fold's labels: inside the training
fold, or, for the fine-tuned model (calibrated on out-of-fold predictions), on the other
folds' out-of-fold predictions.

    python -m training.evaluate --models tfidf_logreg minilm_frozen_logreg --output docs/cv_report.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from model.labels import STANCES, TOPICS
from training.baselines import MODEL_NAMES, make_model
from training.data import LABELS, load_dataset
from training.metrics import evaluate_predictions

DEFAULT_FOLDS = 5
# Out-of-fold stance probabilities are stored rounded to 6 decimals: this floor keeps
# their logarithms finite, the same in cross-validation and in training.
OOF_FLOOR = 5e-4


def stance_logits(PS: np.ndarray) -> np.ndarray:
    """Out-of-fold stance probabilities as logits (log-probabilities) for calibration."""
    return np.log(np.clip(PS, OOF_FLOOR, 1.0))


def article_folds(groups: list[str], n_folds: int = DEFAULT_FOLDS) -> list[np.ndarray]:
    """Deterministic folds of whole articles, balanced by sentence count (test indices per fold)."""
    from sklearn.model_selection import GroupKFold

    n_folds = min(n_folds, len(set(groups)))
    return [te for _, te in GroupKFold(n_splits=n_folds).split(groups, groups=groups)]


def train_indices(texts: list[str], test_idx: np.ndarray) -> np.ndarray:
    """All other rows, without exact duplicates and without texts that occur in the test fold."""
    test_texts = {texts[i] for i in test_idx}
    test_set = set(test_idx.tolist())
    seen, keep = set(), []
    for i, t in enumerate(texts):
        if i in test_set or t in test_texts or t in seen:
            continue
        seen.add(t)
        keep.append(i)
    return np.array(keep)


def read_predictions(path: str | Path, name: str, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``name``'s out-of-fold topic and stance probabilities for ``ids``, from a ``--predictions`` file."""
    path = Path(path)
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = {r["id"]: r.get(name) for r in map(json.loads, lines)}
    keys = {"topic_scores", "stance_scores"}
    missing = [i for i in ids if not rows.get(i) or not keys <= set(rows[i])]
    if missing:
        raise ValueError(f"{path}: no out-of-fold prediction of {name} for {len(missing)} record(s), "
                         f"e.g. {missing[0]}; rerun python -m training.evaluate --models {name} --predictions {path}")
    return (np.array([rows[i]["topic_scores"] for i in ids], dtype=float),
            np.array([rows[i]["stance_scores"] for i in ids], dtype=float))


def calibrated_by_other_folds(texts, Y, PT, s, PS, folds, model=None):
    """Each fold calibrated on the other folds' out-of-fold predictions.

    The fine-tuned default is calibrated (topic cue weights and thresholds, stance
    temperature) on its cross-validation's out-of-fold predictions, since inner folds
    would fine-tune four more times per fold. Doing the same fold by fold, never with
    the fold's own labels, gives honest figures for that rule. ``model``: an unfitted
    ``EntenteClassifier`` whose parameters (``topic_cues``) the calibration follows.
    """
    from model.classifier import EntenteClassifier, logit

    model = model or EntenteClassifier()
    PTc, PSc, TH = np.zeros_like(PT), np.zeros_like(PS), np.zeros_like(PT)
    z, logits = logit(PT), stance_logits(PS)
    for te in folds:
        tr = np.setdiff1d(np.arange(len(s)), te)
        clf = model.clone().calibrate([texts[i] for i in tr], Y[tr], PT[tr], s[tr], logits[tr])
        PTc[te], PSc[te] = clf.apply_calibration([texts[i] for i in te], z[te], logits[te])
        TH[te] = clf.thresholds_
    return PTc, PSc, TH


def cross_validate(name: str, texts, Y, s, groups, folds, params: dict | None = None, log=print,
                   oof: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[dict, np.ndarray, np.ndarray, tuple]:
    """Out-of-fold probabilities and thresholds for one model, then all metrics.

    ``oof``: out-of-fold probabilities of an earlier run of the same model on the same
    folds (``--from-predictions``), to recompute the figures without training again.
    Models calibrated on out-of-fold predictions rather than inner folds
    (``threshold_folds=0``, the fine-tuned default) are scored as they are shipped,
    calibrated by the other folds; their raw figures go under ``"uncalibrated"``.
    Returns the report entry, the raw probabilities and the decisions it scored.
    """
    params = params or {}
    PT = np.zeros(Y.shape, dtype=float)
    PS = np.zeros((len(texts), len(STANCES)), dtype=float)
    TH = np.full(Y.shape, 0.5)
    start = time.perf_counter()
    if oof is not None:
        PT, PS = oof
    else:
        for k, test_idx in enumerate(folds):
            tr = train_indices(texts, test_idx)
            model = make_model(name, **params)
            model.fit([texts[i] for i in tr], Y[tr], s[tr], groups=[groups[i] for i in tr])
            pt, ps = model.predict_proba([texts[i] for i in test_idx])
            PT[test_idx], PS[test_idx], TH[test_idx] = pt, ps, model.thresholds_
            log(f"  {name}: fold {k + 1}/{len(folds)} done ({time.perf_counter() - start:.0f}s)")
    decisions = (PT >= TH, PS.argmax(axis=1))
    template = make_model(name, **params)
    if getattr(template, "threshold_folds", None) == 0 and hasattr(template, "calibrate"):
        raw = evaluate_predictions(Y, PT, s, PS, groups, thresholds=TH)
        PTc, PSc, THc = calibrated_by_other_folds(texts, Y, PT, s, PS, folds, template)
        result = evaluate_predictions(Y, PTc, s, PSc, groups, thresholds=THc)
        result["calibration"] = "by the other folds' out-of-fold predictions"
        result["uncalibrated"] = {"topics": raw["topics"], "stance": raw["stance"],
                                  "bootstrap_95": raw["bootstrap_95"], "rule": "threshold 0.5, T=1, no cues"}
        decisions = (PTc >= THc, PSc.argmax(axis=1))
    else:
        result = evaluate_predictions(Y, PT, s, PS, groups, thresholds=TH)
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["params"] = params
    return result, PT, PS, decisions


def markdown_table(report: dict) -> str:
    """The comparison table for ``docs/results.md``."""
    head = ("| model | topic macro-F1 [95% CI] | " + " | ".join(f"F1 {t}" for t in TOPICS)
            + " | stance macro-F1 [95% CI] | stance acc. | " + " | ".join(f"F1 {s}" for s in STANCES)
            + " | stance ECE | CV time (s) |")
    sep = "|" + "---|" * (head.count("|") - 1)
    rows = [head, sep]
    for name, r in report["models"].items():
        b = r["bootstrap_95"]
        rows.append(
            f"| {name} | {r['topics']['macro_f1']:.3f} [{b['topic_macro_f1'][0]:.2f}, {b['topic_macro_f1'][1]:.2f}] | "
            + " | ".join(f"{r['topics']['per_label'][t]['f1']:.3f}" for t in TOPICS)
            + f" | {r['stance']['macro_f1']:.3f} [{b['stance_macro_f1'][0]:.2f}, {b['stance_macro_f1'][1]:.2f}]"
            + f" | {r['stance']['accuracy']:.3f} | "
            + " | ".join(f"{r['stance']['per_label'][s]['f1']:.3f}" for s in STANCES)
            + f" | {r['stance']['ece']:.3f} | {'' if r.get('seconds') is None else format(r['seconds'], '.0f')} |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=str(LABELS))
    parser.add_argument("--no-check", action="store_true", help="skip the check against the corpus (other labels)")
    parser.add_argument("--models", nargs="+", default=["majority", "lexicon", "tfidf_logreg", "minilm_frozen_logreg"],
                        choices=list(MODEL_NAMES), help="models to compare (default: the fast ones)")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--output", default="docs/cv_report.json", help="JSON report (default: docs/cv_report.json)")
    parser.add_argument("--merge", action="store_true", help="add to the models already in --output")
    parser.add_argument("--predictions", help="also write out-of-fold predictions (JSON Lines) here")
    parser.add_argument("--from-predictions", metavar="FILE",
                        help="no training: recompute the figures from an earlier run's --predictions file "
                             "(its parameters and time are taken from --output's report unless --params is given)")
    parser.add_argument("--params", type=json.loads, default={},
                        help='JSON parameters for the model(s), e.g. \'{"epochs": 3, "threshold_folds": 0}\'')
    args = parser.parse_args(argv)

    ds = load_dataset(args.labels, check=not args.no_check)
    texts, groups = ds["text"], ds["doc_id"]
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    folds = article_folds(groups, args.folds)
    out = Path(args.output)
    earlier = json.loads(out.read_text()) if out.exists() else {"models": {}}
    report = earlier if args.merge else {"models": {}}
    report.update({
        "labels": args.labels, "n_sentences": len(texts), "n_articles": len(set(groups)),
        "folds": [sorted({groups[i] for i in f}) for f in folds],
        "protocol": "GroupKFold by article; exact duplicates and test-fold texts removed from training; "
                    "thresholds and temperature chosen inside each training fold, or for models without inner "
                    "folds on the other folds' out-of-fold predictions; 95% CI by article bootstrap (1000)",
    })
    preds = {}
    for name in args.models:
        print(f"{name} ...", file=sys.stderr)
        oof = read_predictions(args.from_predictions, name, ds["id"]) if args.from_predictions else None
        # rescoring: the parameters and time of the run that wrote the predictions, from the report
        params = args.params or (earlier["models"].get(name, {}).get("params", {}) if oof is not None else {})
        result, PT, PS, decided = cross_validate(name, texts, Y, s, groups, folds, params=params,
                                                 log=lambda m: print(m, file=sys.stderr), oof=oof)
        if oof is not None:  # the time is the training run's, not this rescoring's
            result["seconds"] = earlier["models"].get(name, {}).get("seconds")
        report["models"][name] = result
        preds[name] = (PT, PS, decided)
        print(f"{name}: topic macro-F1 {result['topics']['macro_f1']:.3f}, stance macro-F1 "
              f"{result['stance']['macro_f1']:.3f}, accuracy {result['stance']['accuracy']:.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    if args.predictions:
        with open(args.predictions, "w") as fh:
            for i, t in enumerate(texts):
                rec = {"id": ds["id"][i], "doc_id": groups[i], "text": t,
                       "gold_topics": [x for x, y in zip(TOPICS, Y[i]) if y], "gold_stance": STANCES[s[i]]}
                for name, (PT, PS, (P, p)) in preds.items():  # scores: raw model output; labels: decisions
                    rec[name] = {"topics": [x for x, d in zip(TOPICS, P[i]) if d],
                                 "stance": STANCES[int(p[i])],
                                 "topic_scores": [round(float(v), 6) for v in PT[i]],
                                 "stance_scores": [round(float(v), 6) for v in PS[i]]}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
