"""Out-of-fold prediction files: the one place that writes and reads them.

Cross-validation (``python -m training.evaluate --predictions FILE``) writes, for every
labelled sentence, what each model predicted for it while that sentence's article was
held out: one JSON object per line with the record's ``id``, ``doc_id``, ``text``,
gold labels, and per model its decisions (``topics``, ``stance``) and raw scores
(``topic_scores``, ``stance_scores``: probabilities in label order, before calibration).
Training reads such a file back (``oof`` in a training config) to calibrate a model on
predictions it never trained on; ``--from-predictions`` rescores it without training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from model.checkpoint import atomic_write_text
from model.labels import STANCES, TOPICS

# Scores are stored rounded to this many decimals ...
SCORE_DECIMALS = 6
# ... so stance probabilities are floored at this before their logarithm is taken: it keeps
# the logits finite, the same in cross-validation and in training.
PROBABILITY_FLOOR = 5e-4


def stance_logits(stance_probs: np.ndarray) -> np.ndarray:
    """Out-of-fold stance probabilities as logits (log-probabilities) for calibration."""
    return np.log(np.clip(stance_probs, PROBABILITY_FLOOR, 1.0))


def write_out_of_fold_predictions(
    path: str | Path,
    ids: Sequence[str],
    doc_ids: Sequence[str],
    texts: Sequence[str],
    Y: np.ndarray,
    s: np.ndarray,
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]],
) -> None:
    """Write one line per record: gold labels, and per model name its decisions and raw scores.

    ``predictions`` maps a model name to ``(topic_probs, stance_probs, (topic_decisions,
    stance_decisions))``: the raw out-of-fold probabilities and the decisions scored.
    """
    lines = []
    for row, text in enumerate(texts):
        record = {"id": ids[row], "doc_id": doc_ids[row], "text": text,
                  "gold_topics": [t for t, y in zip(TOPICS, Y[row]) if y], "gold_stance": STANCES[int(s[row])]}
        for name, (topic_probs, stance_probs, (topic_decisions, stance_decisions)) in predictions.items():
            record[name] = {
                "topics": [t for t, chosen in zip(TOPICS, topic_decisions[row]) if chosen],
                "stance": STANCES[int(stance_decisions[row])],
                "topic_scores": [round(float(v), SCORE_DECIMALS) for v in topic_probs[row]],
                "stance_scores": [round(float(v), SCORE_DECIMALS) for v in stance_probs[row]],
            }
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    atomic_write_text(path, "".join(lines))


def read_out_of_fold_predictions(path: str | Path, name: str, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Model ``name``'s out-of-fold topic and stance probabilities for ``ids``, in that order.

    A record without them is a ``ValueError`` saying how to regenerate the file.
    """
    path = Path(path)
    rows = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{number}: not valid JSON ({e.msg})") from None
            rows[record["id"]] = record.get(name)
    keys = {"topic_scores", "stance_scores"}
    missing = [i for i in ids if not rows.get(i) or not keys <= set(rows[i])]
    if missing:
        raise ValueError(f"{path}: no out-of-fold prediction of {name} for {len(missing)} record(s), "
                         f"e.g. {missing[0]}; rerun python -m training.evaluate --models {name} --predictions {path}")
    return (np.array([rows[i]["topic_scores"] for i in ids], dtype=float),
            np.array([rows[i]["stance_scores"] for i in ids], dtype=float))
