"""Evaluation metrics: per-label precision/recall/F1, macro-F1, confusion, ECE, article bootstrap.

Every figure comes from ``sklearn.metrics`` (ECE from ``model.calibration``). The
bootstrap resamples whole articles a thousand times: rather than calling scikit-learn a
thousand times, it sums each article's scikit-learn confusion matrices with the
resample's weights and reads F1 off the summed matrices, all resamples at once.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)

from model.calibration import decide, expected_calibration_error
from model.labels import STANCES, TOPICS

DECIMALS = 4
STANCE_IDS = list(range(len(STANCES)))


def _per_label(y_true: np.ndarray, y_pred: np.ndarray, names, labels=None) -> dict:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {name: {"precision": round(float(p), DECIMALS), "recall": round(float(r), DECIMALS),
                   "f1": round(float(f), DECIMALS), "support": int(n)}
            for name, p, r, f, n in zip(names, precision, recall, f1, support)}


def topic_scores(Y: np.ndarray, P: np.ndarray) -> dict:
    """Per-topic precision, recall, F1 and support, and the macro-F1, of multi-hot decisions ``P``."""
    return {"per_label": _per_label(Y, P, TOPICS),
            "macro_f1": round(float(f1_score(Y, P, average="macro", zero_division=0)), DECIMALS)}


def stance_scores(s: np.ndarray, p: np.ndarray) -> dict:
    """Per-stance figures, macro-F1, accuracy and the confusion matrix of stance ids ``p``."""
    return {
        "per_label": _per_label(s, p, STANCES, labels=STANCE_IDS),
        "macro_f1": round(float(f1_score(s, p, labels=STANCE_IDS, average="macro", zero_division=0)), DECIMALS),
        "accuracy": round(float(accuracy_score(s, p)), DECIMALS) if len(s) else 0.0,
        "confusion": {"rows_true_cols_pred": list(STANCES),
                      "matrix": confusion_matrix(s, p, labels=STANCE_IDS).tolist()},
    }


def _macro_f1(confusions: np.ndarray) -> np.ndarray:
    """Macro-F1 from one-vs-rest confusion matrices ``[..., labels, 2, 2]`` (F1 0 for a label never seen)."""
    tp, fp, fn = confusions[..., 1, 1], confusions[..., 0, 1], confusions[..., 1, 0]
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0).mean(axis=-1)


def bootstrap(Y, P, s, p, groups, n: int = 1000, seed: int = 0) -> dict:
    """95% intervals by resampling whole articles with replacement (sentences of one article move together)."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    docs = np.unique(groups)
    rows = [np.flatnonzero(groups == doc) for doc in docs]
    topic_confusions = np.stack([multilabel_confusion_matrix(Y[r], P[r]) for r in rows])
    stance_confusions = np.stack([multilabel_confusion_matrix(s[r], p[r], labels=STANCE_IDS) for r in rows])
    correct = np.array([np.sum(s[r] == p[r]) for r in rows])
    sizes = np.array([len(r) for r in rows])
    # weights[k, d]: how often resample k drew article d
    weights = np.stack([np.bincount(rng.choice(len(docs), size=len(docs), replace=True), minlength=len(docs))
                        for _ in range(n)])
    stats = {
        "topic_macro_f1": _macro_f1(np.tensordot(weights, topic_confusions, axes=1)),
        "stance_macro_f1": _macro_f1(np.tensordot(weights, stance_confusions, axes=1)),
        "stance_accuracy": (weights @ correct) / (weights @ sizes),
    }
    return {name: [round(float(np.percentile(values, q)), DECIMALS) for q in (2.5, 97.5)]
            for name, values in stats.items()}


def evaluate_predictions(Y, PT, s, PS, groups, thresholds=None, n_boot: int = 1000) -> dict:
    """All figures for out-of-fold probabilities ``PT`` / ``PS``, decided by ``model.calibration.decide``.

    ``thresholds``: per topic ``[4]``, per row and topic ``[n, 4]``, or ``None`` for 0.5.
    """
    P, p = decide(PT, PS, 0.5 if thresholds is None else thresholds)
    return {
        "n": int(len(s)),
        "topics": topic_scores(Y, P),
        "stance": {**stance_scores(s, p), "ece": round(expected_calibration_error(PS, s), DECIMALS)},
        "bootstrap_95": bootstrap(Y, P, s, p, groups, n=n_boot),
    }
