"""Calibration helpers and the decision rule (model.calibration)."""

import numpy as np
import pytest

from model.calibration import best_thresholds, decide, expected_calibration_error, fit_temperature


def test_best_thresholds_and_calibration_helpers():
    y = np.array([[1], [1], [0], [0]])
    p = np.array([[0.9], [0.4], [0.3], [0.1]])
    assert best_thresholds(y, p)[0] == pytest.approx(0.4)  # F1 = 1 on (0.3, 0.4]: the tie goes towards 0.5
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 3)) * 5
    labels = np.array([rng.choice(3, p=np.exp(l / 5) / np.exp(l / 5).sum()) for l in logits])
    assert fit_temperature(logits, labels) == pytest.approx(5, rel=0.3)  # recovers the true temperature
    probs = np.array([[0.9, 0.05, 0.05]] * 10)
    assert expected_calibration_error(probs, np.zeros(10, dtype=int)) == pytest.approx(0.1)


def test_one_decision_rule_threshold_inclusive_and_argmax():
    topics, stances = decide(np.array([[0.5, 0.49, 0.9, 0.0]]), np.array([[0.2, 0.5, 0.3]]), [0.5, 0.5, 0.95, 0.0])
    assert topics.tolist() == [[1, 0, 0, 1]] and stances.tolist() == [1]
    per_row, _ = decide(np.array([[0.3] * 4, [0.3] * 4]), np.zeros((2, 3)), np.array([[0.2] * 4, [0.4] * 4]))
    assert per_row.tolist() == [[1] * 4, [0] * 4]
