"""Evaluation metrics: per-label precision/recall/F1, macro-F1, confusion, article bootstrap."""

from __future__ import annotations

import numpy as np

from model.classifier import expected_calibration_error
from model.labels import STANCES, TOPICS


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(tp + fn)}


def topic_scores(Y: np.ndarray, P: np.ndarray) -> dict:
    per = {}
    for j, t in enumerate(TOPICS):
        tp = int(np.sum((P[:, j] == 1) & (Y[:, j] == 1)))
        fp = int(np.sum((P[:, j] == 1) & (Y[:, j] == 0)))
        fn = int(np.sum((P[:, j] == 0) & (Y[:, j] == 1)))
        per[t] = prf(tp, fp, fn)
    return {"per_label": per, "macro_f1": round(float(np.mean([v["f1"] for v in per.values()])), 4)}


def stance_scores(s: np.ndarray, p: np.ndarray) -> dict:
    per = {}
    for c, name in enumerate(STANCES):
        tp = int(np.sum((p == c) & (s == c)))
        per[name] = prf(tp, int(np.sum((p == c) & (s != c))), int(np.sum((p != c) & (s == c))))
    cm = np.zeros((len(STANCES), len(STANCES)), dtype=int)
    for a, b in zip(s, p):
        cm[a, b] += 1
    return {
        "per_label": per,
        "macro_f1": round(float(np.mean([v["f1"] for v in per.values()])), 4),
        "accuracy": round(float(np.mean(s == p)), 4) if len(s) else 0.0,
        "confusion": {"rows_true_cols_pred": list(STANCES), "matrix": cm.tolist()},
    }


def _macro_f1_topics(Y, P) -> float:
    tp = ((P == 1) & (Y == 1)).sum(0)
    denom = (P == 1).sum(0) + (Y == 1).sum(0)
    return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))


def _macro_f1_stance(s, p) -> float:
    f = []
    for c in range(len(STANCES)):
        tp = np.sum((p == c) & (s == c))
        denom = np.sum(p == c) + np.sum(s == c)
        f.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f))


def bootstrap(Y, P, s, p, groups, n: int = 1000, seed: int = 0) -> dict:
    """95% intervals by resampling whole articles with replacement (sentences of one article move together)."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    docs = np.unique(groups)
    rows = {d: np.flatnonzero(groups == d) for d in docs}
    stats = {"topic_macro_f1": [], "stance_macro_f1": [], "stance_accuracy": []}
    for _ in range(n):
        idx = np.concatenate([rows[d] for d in rng.choice(docs, size=len(docs), replace=True)])
        stats["topic_macro_f1"].append(_macro_f1_topics(Y[idx], P[idx]))
        stats["stance_macro_f1"].append(_macro_f1_stance(s[idx], p[idx]))
        stats["stance_accuracy"].append(float(np.mean(s[idx] == p[idx])))
    return {k: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)] for k, v in stats.items()}


def evaluate_predictions(Y, PT, s, PS, groups, thresholds=None, n_boot: int = 1000) -> dict:
    """All figures for out-of-fold predictions: ``PT``/``PS`` are probabilities, thresholds per row or global."""
    thr = np.asarray(thresholds if thresholds is not None else 0.5)
    P = (PT >= thr).astype(int)
    p = PS.argmax(axis=1)
    return {
        "n": int(len(s)),
        "topics": topic_scores(Y, P),
        "stance": {**stance_scores(s, p), "ece": round(expected_calibration_error(PS, s), 4)},
        "bootstrap_95": bootstrap(Y, P, s, p, groups, n=n_boot),
    }
