"""Baselines compared with the default model on the same folds.

The models are registered by name in ``training.registry``. Every baseline has the
interface the evaluation needs: ``fit(texts, topics, stances,
groups=None)`` and ``predict_proba(texts) -> (topic_probs, stance_probs)``, plus
``thresholds_`` for the topic decisions.
"""

from __future__ import annotations

import re
import tempfile
import numpy as np

from model.calibration import best_thresholds
from model.cues import topic_cues
from model.labels import STANCES, TOPICS


class MajorityBaseline:
    """Each topic's majority decision and the most frequent stance, for every passage."""

    def fit(self, texts, topics, stances, groups=None):
        Y, s = np.asarray(topics), np.asarray(stances)
        self.topic_prior_ = Y.mean(axis=0)
        self.stance_prior_ = np.bincount(s, minlength=len(STANCES)) / len(s)
        self.thresholds_ = np.full(len(TOPICS), 0.5)
        return self

    def predict_proba(self, texts):
        n = len(texts)
        return np.tile(self.topic_prior_, (n, 1)), np.tile(self.stance_prior_, (n, 1))


# Stance cues for the keyword baseline (the topic cues live in model/cues.py, which the classifier uses too).
STANCE_LEXICON = {
    "cooperative": r"cooperat|partner|friend|ties|support|agree|signed|deal|joint|together|strengthen|deepen|"
    r"solidarity|mutual|close|alliance|welcom|praise|common|shared|boost|expand",
    "friction": r"however|but\b|tension|rival|mistrust|distrust|not an ally|not allies|refus|limit|caution|careful|"
    r"hesita|disagree|dispute|competi|fragile|unequal|junior|vassal|wary|concern|silent|reluctan|block|restrict",
}


class LexiconBaseline:
    """Topics by keyword match; stance by which cue list matches more (neutral when none)."""

    def fit(self, texts, topics, stances, groups=None):
        self.thresholds_ = np.full(len(TOPICS), 0.5)
        self._stance = {k: re.compile(v, re.I) for k, v in STANCE_LEXICON.items()}
        return self

    def predict_proba(self, texts):
        stance_probs = np.zeros((len(texts), len(STANCES)))
        for row, text in enumerate(texts):
            cooperative = len(self._stance["cooperative"].findall(text))
            friction = len(self._stance["friction"].findall(text))
            stance = "cooperative" if cooperative > friction else "friction" if friction > cooperative else "neutral"
            stance_probs[row, STANCES.index(stance)] = 1.0
        return topic_cues(texts), stance_probs


class TfidfLogReg:
    """TF-IDF of word 1-2 grams with logistic regression; topic thresholds from inner out-of-fold predictions.

    Subclasses change only the features (``_features``): the heads, class weights and
    inner-fold thresholds stay the same, so the comparison is of representations.
    """

    def __init__(self, C: float = 4.0, threshold_folds: int = 5):
        self.C = C
        self.threshold_folds = threshold_folds

    def _features(self, texts, fitted=None):
        """``(featurizer, X)``: fit the featurizer when ``fitted`` is None, else apply it."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        if fitted is None:
            fitted = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode")
            return fitted, fitted.fit_transform(texts)
        return fitted, fitted.transform(texts)

    def _fit_once(self, texts, Y, s):
        from sklearn.linear_model import LogisticRegression

        featurizer, X = self._features(texts)
        topic = []
        for j in range(len(TOPICS)):
            if 0 < Y[:, j].sum() < len(Y):
                topic.append(LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000).fit(X, Y[:, j]))
            else:
                topic.append(float(Y[:, j].mean()))
        stance = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000).fit(X, s)
        return featurizer, topic, stance

    def _proba(self, parts, texts):
        featurizer, topic, stance = parts
        X = self._features(texts, featurizer)[1]
        PT = np.column_stack([m.predict_proba(X)[:, 1] if hasattr(m, "predict_proba") else np.full(len(texts), m)
                              for m in topic])
        PS = np.zeros((len(texts), len(STANCES)))
        PS[:, stance.classes_] = stance.predict_proba(X)
        return PT, PS

    def fit(self, texts, topics, stances, groups=None):
        from sklearn.model_selection import GroupKFold, KFold

        texts, Y, s = list(texts), np.asarray(topics), np.asarray(stances)
        self.thresholds_ = np.full(len(TOPICS), 0.5)
        if self.threshold_folds > 1:
            n_folds = min(self.threshold_folds, len(set(groups)) if groups is not None else len(texts))
            splits = (GroupKFold(n_folds).split(texts, groups=groups) if groups is not None
                      else KFold(n_folds).split(texts))
            out_of_fold = np.zeros(Y.shape, dtype=float)
            for train_idx, test_idx in splits:
                parts = self._fit_once([texts[i] for i in train_idx], Y[train_idx], s[train_idx])
                out_of_fold[test_idx] = self._proba(parts, [texts[i] for i in test_idx])[0]
            self.thresholds_ = best_thresholds(Y, out_of_fold)
        self.parts_ = self._fit_once(texts, Y, s)
        return self

    def predict_proba(self, texts):
        return self._proba(self.parts_, list(texts))


class TeacherLogReg(TfidfLogReg):
    """The distillation teacher: frozen ``all-mpnet-base-v2`` embeddings with logistic-regression heads.

    Embeddings come from the teacher's cache (``python -m training.teacher --embed``), so
    cross-validation costs seconds once every unit is embedded. Training only: nothing
    that scores needs it.
    """

    def __init__(self, C: float = 1.0, threshold_folds: int = 5):
        super().__init__(C=C, threshold_folds=threshold_folds)

    def _features(self, texts, fitted=None):
        from training.teacher import embed_cached

        return "all-mpnet-base-v2", embed_cached(list(texts))


class SetFitBaseline:
    """The ``setfit`` package as a peer: contrastive sentence-pair fine-tuning of the same
    MiniLM body, one SetFit model for topics (one-vs-rest) and one for stance."""

    def __init__(self, num_iterations: int = 5, epochs: int = 1, batch_size: int = 16, max_steps: int = -1,
                 seed: int = 0):
        self.num_iterations = num_iterations
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps  # caps contrastive steps per model (CPU budget); -1: no cap
        self.seed = seed

    def _train(self, texts, labels, multi: bool):
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        from model.encoder import encoder_path

        model = SetFitModel.from_pretrained(
            str(encoder_path()), multi_target_strategy="one-vs-rest" if multi else None
        )
        args = TrainingArguments(
            output_dir=tempfile.mkdtemp(prefix="setfit-"), save_strategy="no",  # never write into the repo
            batch_size=self.batch_size, num_epochs=self.epochs, num_iterations=self.num_iterations,
            max_steps=self.max_steps, seed=self.seed, report_to="none", show_progress_bar=False,
        )
        data = Dataset.from_dict({"text": list(texts), "label": [list(map(int, l)) if multi else int(l) for l in labels]})
        Trainer(model=model, args=args, train_dataset=data).train()
        return model

    def fit(self, texts, topics, stances, groups=None):
        self.thresholds_ = np.full(len(TOPICS), 0.5)
        self.topic_model_ = self._train(texts, np.asarray(topics), multi=True)
        self.stance_model_ = self._train(texts, np.asarray(stances), multi=False)
        return self

    def predict_proba(self, texts):
        PT = np.asarray(self.topic_model_.predict_proba(list(texts)), dtype=float)
        raw = np.asarray(self.stance_model_.predict_proba(list(texts)), dtype=float)
        PS = np.zeros((len(texts), len(STANCES)))
        classes = list(getattr(self.stance_model_.model_head, "classes_", range(raw.shape[1])))
        PS[:, classes] = raw
        return PT.reshape(len(texts), len(TOPICS)), PS
