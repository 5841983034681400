"""Grouped cross-validation and a time split of every model on the same articles; a JSON report and a table.

Folds are by article: no sentence of a test article is in training. Exact duplicate
sentences are removed from each training fold, and so is any training sentence whose
text also occurs in the test fold (several articles quote the same words). Every
calibration (topic cue weights and thresholds, stance temperature) is chosen without
the test fold's labels: inside the training fold, or, for the fine-tuned model
(calibrated on out-of-fold predictions), on the other folds' out-of-fold predictions.

    python -m training.evaluate --merge --models tfidf_logreg minilm_frozen_logreg --output docs/cv_report.json

``--merge`` keeps the rows of models not run this time (``make evaluate`` passes it).

``--protocol time`` is the in-corpus proxy for articles published after the corpus:
train on articles up to the end of 2023, test on articles from 2024 on. An article's
year is its manifest ``date``'s year, else its estimated ``year``; articles with neither
only ever train. Its report goes to ``docs/time_split_report.json`` by default.

    python -m training.evaluate --protocol time --merge --models tfidf_logreg minilm_frozen_logreg
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from model.calibration import decide, fit_calibration, logit, stance_probabilities, topic_probabilities
from model.checkpoint import atomic_write_text
from model.labels import STANCES, TOPICS
from training import reports_progress
from training.data import CORPUS, LABELS, ROOT, article_year, load_dataset, read_jsonl
from training.metrics import evaluate_predictions
from training.out_of_fold import read_out_of_fold_predictions, stance_logits, write_out_of_fold_predictions
from training.registry import FAST, MODEL_NAMES, make_model

DEFAULT_FOLDS = 5
FIRST_TEST_YEAR = 2024  # the time split tests on articles from this year on


def article_years(manifest: str | Path = CORPUS / "manifest.jsonl") -> dict[str, int | None]:
    """Each article's year: its ``date``'s year, else the manifest's estimated ``year``, else None."""
    return {record["id"]: article_year(record) for record in read_jsonl(manifest)}


def time_split(groups: list[str], years: dict[str, int | None], first_test_year: int = FIRST_TEST_YEAR) -> np.ndarray:
    """Rows of articles from ``first_test_year`` on (the test set); all other rows train.

    Articles with no year are never tested: they may come from any period.
    """
    return np.array([row for row, doc in enumerate(groups)
                     if years.get(doc) is not None and years[doc] >= first_test_year])


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
    for row, text in enumerate(texts):
        if row in test_set or text in test_texts or text in seen:
            continue
        seen.add(text)
        keep.append(row)
    return np.array(keep)


def calibrated_by_other_folds(texts, Y, PT, s, PS, folds, use_cues: bool = True):
    """Each fold calibrated on the other folds' out-of-fold predictions.

    The fine-tuned default is calibrated (topic cue weights and thresholds, stance
    temperature) on its cross-validation's out-of-fold predictions, since inner folds
    would fine-tune four more times per fold. Doing the same fold by fold, never with
    the fold's own labels, gives honest figures for that rule. ``use_cues``: the model's
    ``topic_cues`` parameter. Returns calibrated topic and stance probabilities and the
    thresholds per row.
    """
    PTc, PSc, TH = np.zeros_like(PT), np.zeros_like(PS), np.zeros_like(PT)
    z, logits = logit(PT), stance_logits(PS)
    for test_idx in folds:
        train_idx = np.setdiff1d(np.arange(len(s)), test_idx)
        chosen = fit_calibration([texts[i] for i in train_idx], Y[train_idx], PT[train_idx], s[train_idx],
                                 logits[train_idx], use_cues=use_cues)
        PTc[test_idx] = topic_probabilities(z[test_idx], [texts[i] for i in test_idx], chosen.topic_params)
        PSc[test_idx] = stance_probabilities(logits[test_idx], chosen.temperature)
        TH[test_idx] = chosen.thresholds
    return PTc, PSc, TH


def cross_validate(name: str, texts, Y, s, groups, folds, params: dict | None = None, log=print,
                   out_of_fold: tuple[np.ndarray, np.ndarray] | None = None, resume_dir: Path | None = None,
                   select_train=None) -> tuple[dict, np.ndarray, np.ndarray, tuple]:
    """Out-of-fold probabilities and thresholds for one model, then all metrics.

    ``out_of_fold``: out-of-fold probabilities of an earlier run of the same model on the same
    folds (``--from-predictions``), to recompute the figures without training again.
    ``resume_dir``: each fold's out-of-fold predictions are saved there as the fold ends and
    read back instead of retrained, so an interrupted long run resumes where it stopped.
    ``select_train(rows, fold)``: the training rows actually used from a fold's ``rows``
    (the learning curve keeps a share of the articles).
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
    if out_of_fold is not None:
        PT, PS = out_of_fold
    else:
        for fold, test_idx in enumerate(folds, 1):
            saved = resume_dir / f"fold-{fold}.npz" if resume_dir else None
            if saved and saved.exists():  # finished in an earlier, interrupted run
                with np.load(saved) as done:
                    PT[test_idx], PS[test_idx], TH[test_idx] = done["topic"], done["stance"], done["thresholds"]
                log(f"  {name}: fold {fold}/{len(folds)} read from {saved}")
                continue
            train_idx = train_indices(texts, test_idx)
            if select_train is not None:
                train_idx = select_train(train_idx, fold)
            model = make_model(name, **params)
            model.fit([texts[i] for i in train_idx], Y[train_idx], s[train_idx],
                      groups=[groups[i] for i in train_idx])
            PT[test_idx], PS[test_idx] = model.predict_proba([texts[i] for i in test_idx])
            TH[test_idx] = model.thresholds_
            if saved:
                saved.parent.mkdir(parents=True, exist_ok=True)
                np.savez(saved.with_suffix(".tmp.npz"), topic=PT[test_idx], stance=PS[test_idx],
                         thresholds=TH[test_idx])
                saved.with_suffix(".tmp.npz").replace(saved)
            log(f"  {name}: fold {fold}/{len(folds)} done ({time.perf_counter() - start:.0f}s)")
    decisions = decide(PT, PS, TH)
    template = make_model(name, **params)
    rows = np.sort(np.concatenate(folds))  # every row in cross-validation; the test period in a time split
    grouped = [groups[i] for i in rows]
    calibrated_out_of_fold = getattr(template, "threshold_folds", None) == 0 and hasattr(template, "calibrate")
    if calibrated_out_of_fold and len(folds) > 1:
        raw = evaluate_predictions(Y, PT, s, PS, groups, thresholds=TH)
        PTc, PSc, THc = calibrated_by_other_folds(texts, Y, PT, s, PS, folds, use_cues=template.topic_cues)
        result = evaluate_predictions(Y, PTc, s, PSc, groups, thresholds=THc)
        result["calibration"] = "by the other folds' out-of-fold predictions"
        result["uncalibrated"] = {"topics": raw["topics"], "stance": raw["stance"],
                                  "bootstrap_95": raw["bootstrap_95"], "rule": "threshold 0.5, T=1, no cues"}
        decisions = decide(PTc, PSc, THc)
    else:
        result = evaluate_predictions(Y[rows], PT[rows], s[rows], PS[rows], grouped, thresholds=TH[rows])
        if calibrated_out_of_fold:  # one test period: no out-of-fold predictions to calibrate on
            result["calibration"] = ("none: threshold 0.5, T=1, no cues (a single split has no out-of-fold "
                                     "predictions to calibrate on; stance decisions are argmax, unaffected)")
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["params"] = params
    return result, PT, PS, decisions


def resume_path(protocol: str, name: str, params: dict, ids, Y, s, folds) -> Path:
    """Where a run's per-fold predictions are kept: one folder per labels, folds, model and parameters."""
    import hashlib

    key = json.dumps([protocol, name, params, list(ids), Y.tolist(), s.tolist(), [f.tolist() for f in folds]],
                     sort_keys=True)
    return ROOT / "runs" / "cv" / f"{protocol}-{name}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def markdown_table(report: dict) -> str:
    """The comparison table for ``docs/results.md``."""
    head = ("| model | topic macro-F1 [95% CI] | " + " | ".join(f"F1 {t}" for t in TOPICS)
            + " | stance macro-F1 [95% CI] | stance acc. | " + " | ".join(f"F1 {s}" for s in STANCES)
            + " | stance ECE | CV time (s) |")
    sep = "|" + "---|" * (head.count("|") - 1)
    rows = [head, sep]
    for name, result in report["models"].items():
        topics, stance, intervals = result["topics"], result["stance"], result["bootstrap_95"]
        seconds = "" if result.get("seconds") is None else format(result["seconds"], ".0f")
        rows.append(
            f"| {name} | {topics['macro_f1']:.3f} [{intervals['topic_macro_f1'][0]:.2f}, "
            f"{intervals['topic_macro_f1'][1]:.2f}] | "
            + " | ".join(f"{topics['per_label'][t]['f1']:.3f}" for t in TOPICS)
            + f" | {stance['macro_f1']:.3f} [{intervals['stance_macro_f1'][0]:.2f}, "
            f"{intervals['stance_macro_f1'][1]:.2f}] | {stance['accuracy']:.3f} | "
            + " | ".join(f"{stance['per_label'][s]['f1']:.3f}" for s in STANCES)
            + f" | {stance['ece']:.3f} | {seconds} |"
        )
    return "\n".join(rows) + "\n"


def display_path(path: str | Path) -> str:
    """``path`` relative to the repository when it lies inside it (reports carry no machine's absolute paths)."""
    resolved = Path(path).resolve()
    return resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(path)


@reports_progress
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=str(LABELS), help="label file (default: labels/sentences.jsonl)")
    parser.add_argument("--no-check", action="store_true", help="skip the check against the corpus (other labels)")
    parser.add_argument("--models", nargs="+", default=list(FAST), choices=list(MODEL_NAMES),
                        help=f"models to compare (default: the fast ones, {' '.join(FAST)})")
    parser.add_argument("--protocol", choices=["cv", "time"], default="cv",
                        help=f"cv: grouped folds by article; time: train up to {FIRST_TEST_YEAR - 1}, "
                             f"test on articles from {FIRST_TEST_YEAR} on")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help=f"folds by article (default: {DEFAULT_FOLDS})")
    parser.add_argument("--output", default=None,
                        help="JSON report (default: docs/cv_report.json, or docs/time_split_report.json)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of --output's models not run now (without it, the report is replaced)")
    parser.add_argument("--predictions", metavar="FILE",
                        help="also write every model's out-of-fold predictions (JSON Lines) to FILE")
    parser.add_argument("--from-predictions", metavar="FILE", nargs="+",
                        help="no training: recompute the figures from the out-of-fold predictions of an earlier "
                             "run's --predictions FILE (its parameters and time are taken from --output's report "
                             "unless --params is given). With several files (runs of the model with other seeds, "
                             "say), their probabilities are averaged and scored the same way: an output ensemble")
    parser.add_argument("--name", help="the report's row for the (one) model (default: its name; with several "
                                       "--from-predictions files, NAME_ensemble)")
    parser.add_argument("--resume", action="store_true",
                        help="save each fold's out-of-fold predictions under runs/cv/ as it ends and reuse them "
                             "on a rerun with the same labels, protocol, model and parameters")
    parser.add_argument("--params", type=json.loads, default={},
                        help='JSON parameters for the model(s), e.g. \'{"epochs": 3, "threshold_folds": 0}\'')
    args = parser.parse_args(argv)
    if args.name and len(args.models) != 1:
        parser.error("--name names the row of one model: give one --models")

    ds = load_dataset(args.labels, check=not args.no_check)
    texts, groups = ds["text"], ds["doc_id"]
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    if args.protocol == "time":
        folds = [time_split(groups, article_years())]
    else:
        folds = article_folds(groups, args.folds)
    out = Path(args.output or ("docs/time_split_report.json" if args.protocol == "time" else "docs/cv_report.json"))
    earlier = json.loads(out.read_text()) if out.exists() else {"models": {}}
    report = earlier if args.merge else {"models": {}}
    report.update({
        "labels": display_path(args.labels), "n_sentences": len(texts), "n_articles": len(set(groups)),
        "folds": [sorted({groups[i] for i in fold}) for fold in folds],
        "protocol": ("GroupKFold by article; exact duplicates and test-fold texts removed from training; "
                     "calibration (topic cue weights and thresholds, stance temperature) chosen inside each "
                     "training fold, or for models without inner folds on the other folds' out-of-fold "
                     "predictions; 95% CI by article bootstrap (1000)") if args.protocol == "cv" else
                    (f"time split: test on articles dated {FIRST_TEST_YEAR} or later "
                     f"({len(folds[0])} sentences), train on the rest (up to {FIRST_TEST_YEAR - 1}, and undated); "
                     "exact duplicates and test texts removed from training; calibration inside the training "
                     "period (inner folds), none for models without inner folds; 95% CI by article bootstrap (1000)"),
    })
    predictions = {}
    ensemble = len(args.from_predictions or ()) > 1  # several runs' predictions, averaged
    for name in args.models:
        print(f"{name} ...", file=sys.stderr)
        out_of_fold = None
        row = args.name or (f"{name}_ensemble" if ensemble else name)
        if args.from_predictions:  # a time split's file holds its test period only
            rows = np.sort(np.concatenate(folds))
            saved = [read_out_of_fold_predictions(path, name, [ds["id"][i] for i in rows])
                     for path in args.from_predictions]
            out_of_fold = (np.zeros(Y.shape), np.zeros((len(texts), len(STANCES))))
            out_of_fold[0][rows] = np.mean([topic for topic, _ in saved], axis=0)
            out_of_fold[1][rows] = np.mean([stance for _, stance in saved], axis=0)
        # rescoring: the parameters and time of the run that wrote the predictions, from the report
        params = args.params or (earlier["models"].get(row, {}).get("params", {}) if out_of_fold is not None else {})
        resume_dir = resume_path(args.protocol, name, params, ds["id"], Y, s, folds) if args.resume else None
        result, PT, PS, decided = cross_validate(name, texts, Y, s, groups, folds, params=params,
                                                 log=lambda message: print(message, file=sys.stderr),
                                                 out_of_fold=out_of_fold, resume_dir=resume_dir)
        if out_of_fold is not None:  # the time is the training run's, not this rescoring's
            result["seconds"] = earlier["models"].get(row, {}).get("seconds")
        if ensemble:
            result["ensemble"] = {"of": [display_path(path) for path in args.from_predictions],
                                  "rule": "mean of the runs' out-of-fold probabilities, then scored as one model"}
        report["models"][row] = result
        predictions[row] = (PT, PS, decided)
        print(f"{row}: topic macro-F1 {result['topics']['macro_f1']:.3f}, stance macro-F1 "
              f"{result['stance']['macro_f1']:.3f}, accuracy {result['stance']['accuracy']:.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    if args.predictions:
        rows = np.sort(np.concatenate(folds))  # the time split predicts its test period only
        ids = [ds["id"][i] for i in rows]
        write_out_of_fold_predictions(
            args.predictions, ids, [groups[i] for i in rows], [texts[i] for i in rows], Y[rows], s[rows],
            {name: (PT[rows], PS[rows], (TD[rows], SD[rows])) for name, (PT, PS, (TD, SD)) in predictions.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
