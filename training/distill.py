"""The distilled student: MiniLM fine-tuned on gold labels plus a frozen-mpnet teacher's stance.

``DistilledStudent`` is an ``EntenteClassifier`` whose ``fit`` first trains the teacher
(frozen ``all-mpnet-base-v2`` embeddings with logistic regression, ``TeacherLogReg``) on
the same gold labels it is given, so that in cross-validation the teacher never sees a
test fold. The teacher's stance probabilities for the labelled units and for every unit
of the unlabelled articles (``corpus/unlabelled``) are then distilled into the student's
stance head (see ``model.heads.fine_tune``). Topics learn from gold labels only.

In a time split the student may see unlabelled text only from the training period:
``unlabelled_until=2023`` keeps unlabelled articles dated up to 2023 and leaves undated
ones out. The student saves and loads like any ``EntenteClassifier`` checkpoint; the
teacher is for training only.

    python -m training.evaluate --models minilm_distilled --params '{"epochs": 3, "threshold_folds": 0}'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.classifier import EntenteClassifier
from model.labels import TOPICS

ROOT = Path(__file__).resolve().parent.parent
UNLABELLED = ROOT / "corpus" / "unlabelled"


def unlabelled_units(until: int | None = None, corpus: Path = UNLABELLED, exclude: Sequence[str] = ()) -> list[str]:
    """Distinct units of the unlabelled articles, optionally only of those dated up to ``until``.

    With ``until``, an article counts by its ``date``'s year, else its estimated ``year``;
    articles with neither are left out. Texts in ``exclude`` (the labelled ones) are dropped.
    """
    from model.text import split_sentences
    from training.data import article_year, read_jsonl

    seen, units = set(exclude), []
    for record in read_jsonl(corpus / "manifest.jsonl"):
        if until is not None and ((year := article_year(record)) is None or year > until):
            continue
        text = (corpus / "articles" / f"{record['id']}.txt").read_text(encoding="utf-8")
        for passage in split_sentences(text):
            if passage.text not in seen:
                seen.add(passage.text)
                units.append(passage.text)
    return units


class DistilledStudent(EntenteClassifier):
    """``EntenteClassifier`` fine-tuned with a teacher's soft stance labels on labelled and unlabelled text.

    Parameters beyond ``EntenteClassifier``'s
    -----------------------------------------
    teacher_C : float
        Inverse L2 strength of the teacher's logistic regressions.
    unlabelled_until : int or None
        Use unlabelled articles dated up to this year only (None: all of them).
    """

    def __init__(self, fine_tune: bool = True, C: float = 4.0, class_weight: str | None = "balanced",
                 epochs: int = 3, learning_rate: float = 5e-5, head_learning_rate: float = 1e-3,
                 batch_size: int = 16, threshold_folds: int = 0, topic_cues: bool = True, seed: int = 0,
                 distill_weight: float = 1.0, distill_temperature: float = 2.0, teacher_C: float = 1.0,
                 unlabelled_until: int | None = None):
        super().__init__(fine_tune=fine_tune, C=C, class_weight=class_weight, epochs=epochs,
                         learning_rate=learning_rate, head_learning_rate=head_learning_rate, batch_size=batch_size,
                         threshold_folds=threshold_folds, topic_cues=topic_cues, seed=seed,
                         distill_weight=distill_weight, distill_temperature=distill_temperature)
        self.teacher_C = teacher_C
        self.unlabelled_until = unlabelled_until

    def teacher_stance(self, texts: Sequence[str], Y: np.ndarray, s: np.ndarray,
                       others: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The teacher, trained on the gold labels: its stance probabilities for ``texts`` and ``others``."""
        from training.baselines import TeacherLogReg

        teacher = TeacherLogReg(C=self.teacher_C, threshold_folds=0).fit(list(texts), Y, s)
        return teacher.predict_proba(list(texts))[1], teacher.predict_proba(list(others))[1]

    def fit(self, texts: Sequence[str], topics, stances, groups: Sequence[str] | None = None, *,
            soft_stance: np.ndarray | None = None, unlabelled_texts: Sequence[str] | None = None,
            unlabelled_soft_stance: np.ndarray | None = None) -> "DistilledStudent":
        """Train the teacher on the gold labels, then the student on gold plus the teacher's stance.

        Given ``soft_stance`` and ``unlabelled_soft_stance``, uses them instead of a teacher.
        """
        texts = list(texts)
        Y = np.asarray(topics, dtype=np.int64).reshape(len(texts), len(TOPICS))
        s = np.asarray(stances, dtype=np.int64)
        if unlabelled_texts is None:
            unlabelled_texts = unlabelled_units(self.unlabelled_until, exclude=texts)
        unlabelled_texts = list(unlabelled_texts)
        if soft_stance is None or unlabelled_soft_stance is None:
            soft_stance, unlabelled_soft_stance = self.teacher_stance(texts, Y, s, unlabelled_texts)
        return super().fit(texts, Y, s, groups, soft_stance=soft_stance, unlabelled_texts=unlabelled_texts,
                           unlabelled_soft_stance=unlabelled_soft_stance)
