"""Calibration and the decision rule: from the heads' raw logits to probabilities and labels.

The one owner of everything between a logit and a label:

* the link functions (``sigmoid``, ``softmax``, ``logit``);
* the **decision rule** (``decide``): a topic applies when its calibrated probability is
  at or above its threshold, the stance is the most probable one. ``predict``, the
  estimator, the evaluation and the ONNX agreement check all call it;
* topic calibration: per topic, a logistic regression on the head's logit and the
  codebook's keyword cue (``model.cues``), so an unambiguous name such as "Crimea" can
  count (``fit_topic_calibration``, applied by ``topic_probabilities``), then the
  F1-best threshold on the calibrated scores (``best_thresholds``);
* the stance temperature (``fit_temperature``) and the expected calibration error
  (``expected_calibration_error``) that decides whether it is needed;
* ``fit_calibration``, which does all of it on out-of-fold predictions.

Numpy only at import (no torch), so evaluation code can use it cheaply; ``scipy`` is
imported only to fit the topic calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .cues import topic_cues
from .labels import TOPICS

# A probability clipped to [EPS, 1 - EPS] before taking its logit (keeps logits finite).
EPS = 1e-6
# The stance temperature is fitted only where the expected calibration error exceeds this.
ECE_TOLERANCE = 0.05
# Topic calibration parameters (logit weight, cue weight, bias) that change nothing.
IDENTITY = (1.0, 0.0, 0.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``[n, k]`` logits (shifted by the row maximum for stability)."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def logit(p: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The inverse of the sigmoid, with probabilities clipped to ``[eps, 1 - eps]``."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def decide(topic_probs: np.ndarray, stance_probs: np.ndarray, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """The decision rule: multi-hot topics ``[n, 4]`` (probability >= threshold) and stance ids ``[n]`` (argmax).

    ``thresholds`` is one threshold per topic ``[4]``, one per row and topic ``[n, 4]``,
    or a single number.
    """
    topics = (np.asarray(topic_probs) >= np.asarray(thresholds)).astype(np.int64)
    return topics, np.asarray(stance_probs).argmax(axis=1)


def best_thresholds(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per label, the threshold in 0.05..0.95 with the best F1 (ties go to the one nearest 0.5).

    A label with no positive example keeps 0.5.
    """
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
    out = np.full(y_true.shape[1], 0.5)
    for label in range(y_true.shape[1]):
        truth = y_true[:, label] == 1
        if not truth.any():
            continue
        scores = []
        for threshold in grid:
            chosen = probs[:, label] >= threshold
            f1 = 2 * np.sum(chosen & truth) / max(chosen.sum() + truth.sum(), 1)
            scores.append((round(f1, 6), -abs(threshold - 0.5), threshold))
        out[label] = max(scores)[2]
    return out


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature in 0.2..10 that minimises negative log-likelihood on held-out logits."""
    best_t, best_nll = 1.0, np.inf
    rows = np.arange(len(y))
    for t in np.exp(np.linspace(np.log(0.2), np.log(10.0), 241)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = -np.mean(z[rows, y] - np.log(np.exp(z).sum(axis=1)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def reliability_bins(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    """The reliability diagram of the top-class probability, as data.

    One entry per non-empty equal-width confidence bin ``(lo, hi]``: its bounds, the number of
    rows, their mean top-class probability (``confidence``) and the share of them whose top
    class is right (``accuracy``). A calibrated model has ``accuracy`` close to ``confidence``.
    """
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            rows.append({"lo": round(float(lo), 3), "hi": round(float(hi), 3), "count": int(in_bin.sum()),
                         "confidence": float(confidence[in_bin].mean()), "accuracy": float(correct[in_bin].mean())})
    return rows


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class probability over ``bins`` equal-width confidence bins."""
    return float(sum(b["count"] / len(y) * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probs, y, bins)))


def fit_topic_calibration(logits: np.ndarray, cues: np.ndarray, Y: np.ndarray, C: float = 1.0) -> np.ndarray:
    """Per topic, ``[a, b, c]`` of the logistic regression ``sigmoid(a * logit + b * cue + c)``.

    Fitted on held-out logits by L2-regularised maximum likelihood (scikit-learn's
    objective, C=1) with ``a >= 0`` and ``b >= 0``: calibration may shrink the model's
    logit or a cue's weight to nothing, but never turn either against its topic. A
    label with one class only in ``Y`` keeps the identity ``[1, 0, 0]``.
    """
    from scipy.optimize import minimize

    params = np.tile(IDENTITY, (Y.shape[1], 1))
    for label in range(Y.shape[1]):
        if not 0 < Y[:, label].sum() < len(Y):
            continue
        X = np.column_stack([logits[:, label], cues[:, label], np.ones(len(Y))])
        sign = np.where(Y[:, label] == 1, 1.0, -1.0)

        def loss(w, X=X, sign=sign):
            margin = sign * (X @ w)
            value = 0.5 * (w[0] ** 2 + w[1] ** 2) + C * np.logaddexp(0, -margin).sum()
            grad = -C * (X * (sign * sigmoid(-margin))[:, None]).sum(axis=0) + np.array([w[0], w[1], 0.0])
            return value, grad

        res = minimize(loss, np.array(IDENTITY), jac=True, method="L-BFGS-B",
                       bounds=[(0, None), (0, None), (None, None)])
        params[label] = res.x
    return params


def topic_probabilities(topic_logits: np.ndarray, texts: Sequence[str], params: np.ndarray) -> np.ndarray:
    """Calibrated topic probabilities ``[n, 4]`` from the head's logits and the passages' keyword cues.

    ``params`` is ``[4, 3]``: logit weight, cue weight and bias per topic. Cues are only
    computed where some cue weight is not zero.
    """
    a, b, c = (params[:, k] for k in range(3))
    cues = topic_cues(list(texts)) if np.any(b) else 0.0
    return sigmoid(a * np.asarray(topic_logits, dtype=np.float64) + b * cues + c)


def stance_probabilities(stance_logits: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled stance probabilities ``[n, 3]``."""
    return softmax(np.asarray(stance_logits, dtype=np.float64) / temperature)


@dataclass
class Calibration:
    """What ``fit_calibration`` chose: topic calibration ``[4, 3]``, thresholds ``[4]``,
    stance temperature, and a JSON-ready summary (``report``) for the checkpoint."""

    topic_params: np.ndarray = field(default_factory=lambda: np.tile(IDENTITY, (len(TOPICS), 1)))
    thresholds: np.ndarray = field(default_factory=lambda: np.full(len(TOPICS), 0.5))
    temperature: float = 1.0
    report: dict = field(default_factory=dict)


def fit_calibration(texts: Sequence[str], topics, topic_probs, stances, stance_logits, *, use_cues: bool = True,
                    source: str = "inner folds") -> Calibration:
    """Choose the topic calibration and thresholds and the stance temperature on held-out predictions.

    ``topic_probs`` ``[n, 4]`` (head probabilities, before any calibration) and
    ``stance_logits`` ``[n, 3]`` must come from models that did not train on those rows
    (out-of-fold predictions) of ``texts``. Per topic, a logistic regression on the
    logit (and the keyword cue, if ``use_cues``), then the threshold with the best F1
    on the calibrated scores. The temperature is fitted only where the expected
    calibration error exceeds ``ECE_TOLERANCE``.
    """
    texts = list(texts)
    Y, s = np.asarray(topics, dtype=np.int64), np.asarray(stances, dtype=np.int64)
    logits = np.asarray(stance_logits, dtype=np.float64)
    if not len(texts) == len(Y) == len(s) == len(logits) == len(topic_probs):
        raise ValueError("calibrate: texts, topics, topic_probs, stances and stance_logits differ in length")
    z = logit(topic_probs)
    cues = topic_cues(texts) if use_cues else np.zeros_like(z)
    params = fit_topic_calibration(z, cues, Y)
    thresholds = best_thresholds(Y, topic_probabilities(z, texts, params))
    ece_raw = expected_calibration_error(softmax(logits), s)
    temperature = fit_temperature(logits, s) if ece_raw > ECE_TOLERANCE else 1.0
    report = {
        "stance_ece_uncalibrated": round(ece_raw, 4),
        "stance_ece_calibrated": round(expected_calibration_error(stance_probabilities(logits, temperature), s), 4),
        "temperature": round(temperature, 4),
        "topic_cues": bool(use_cues),
        "source": source,
    }
    return Calibration(params, thresholds, temperature, report)
