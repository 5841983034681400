"""The public prediction API: ``predict`` for passages, ``score_article`` for whole articles.

A checkpoint is loaded once per folder and kept in a small cache, so repeated calls
cost only the encoder's forward pass. Two encoder backends give the embeddings the
heads read: ``"torch"`` (float32, the default) and ``"onnx"`` (the int8 graph written by
``entente export-onnx``, run by ONNX Runtime; needs the ``onnx`` extra).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, overload

from . import checkpoint as checkpoints
from .labels import STANCES, TOPICS
from .text import split_passages

DEFAULT_BATCH_SIZE = 64
BACKENDS = ("torch", "onnx")
Backend = Literal["torch", "onnx"]

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def load_model(checkpoint: str | Path | None = None):
    """Load (once) and return the classifier stored in ``checkpoint``.

    The default is ``model.checkpoint.default_checkpoint()``: ``$ENTENTE_CHECKPOINT``, else
    the shipped checkpoint of a checkout or an installation. A missing checkpoint is a
    ``FileNotFoundError``, an invalid one a ``model.checkpoint.CheckpointError``.
    """
    from .classifier import EntenteClassifier

    path = checkpoints.resolve(checkpoint)
    key = str(path.resolve())
    with _lock:
        if key not in _cache:
            _cache[key] = EntenteClassifier.from_pretrained(path)
        return _cache[key]


def load_encoder(checkpoint: str | Path | None = None, backend: Backend = "torch"):
    """Load (once) the encoder that ``backend`` runs: anything with ``embed(texts, batch_size)``.

    ``"torch"`` is the classifier itself; ``"onnx"`` raises ``ImportError`` without
    onnxruntime and ``FileNotFoundError`` when the checkpoint has no exported encoder.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "torch":
        return load_model(checkpoint)
    from .onnx_runtime import OnnxEncoder

    path = checkpoints.resolve(checkpoint)
    key = f"{path.resolve()}::onnx"
    heads_dim = load_model(checkpoint).heads_.dim
    with _lock:
        if key not in _cache:
            encoder = OnnxEncoder(path)
            if encoder.dim != heads_dim:  # found now, not at the first passage scored
                raise checkpoints.CheckpointError(
                    path / checkpoints.ONNX_ENCODER_NAME, f"gives {encoder.dim}-d embeddings but the heads take {heads_dim}; "
                                                 f"run entente export-onnx again")
            _cache[key] = encoder
        return _cache[key]


def _records(texts: list[str], model, encoder, batch_size: int) -> list[dict]:
    """One prediction record per text: the decisions (``decide``) and the probabilities behind them."""
    from .calibration import decide

    topic_probs, stance_probs = model.proba_from_embeddings(encoder.embed(texts, batch_size=batch_size), texts)
    topics, stances = decide(topic_probs, stance_probs, model.thresholds_)
    return [
        {
            "text": text,
            "topics": [t for t, chosen in zip(TOPICS, topic_row) if chosen],
            "topic_scores": {t: float(p) for t, p in zip(TOPICS, topic_prob_row)},
            "stance": STANCES[int(stance)],
            "stance_scores": {s: float(p) for s, p in zip(STANCES, stance_prob_row)},
        }
        for text, topic_row, topic_prob_row, stance, stance_prob_row
        in zip(texts, topics, topic_probs, stances, stance_probs)
    ]


@overload
def predict(
    texts: str, *, checkpoint: str | Path | None = ..., batch_size: int = ..., backend: Backend = ...
) -> dict: ...
@overload
def predict(
    texts: Sequence[str], *, checkpoint: str | Path | None = ..., batch_size: int = ..., backend: Backend = ...
) -> list[dict]: ...


def predict(texts, *, checkpoint=None, batch_size=DEFAULT_BATCH_SIZE, backend="torch"):
    """Tag one passage (a ``str``: returns a dict) or many (a list: returns a list, same order).

    Each result has ``text``, ``topics`` (labels at or above their threshold, in the
    order security, energy, taiwan, ukraine), ``topic_scores``, ``stance`` (the most
    probable of cooperative, friction, neutral) and ``stance_scores`` (summing to 1).
    Scores are the probabilities the decisions were made on, unrounded; the output files
    of ``model.report`` round them. ``backend`` picks the encoder: ``"torch"`` (float32) or ``"onnx"`` (int8, see
    ``load_encoder``).
    """
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    bad = [type(t).__name__ for t in batch if not isinstance(t, str)]
    if bad:
        raise TypeError(f"predict() takes a string or a list of strings, got an item of type {bad[0]}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not batch:
        return []
    encoder = load_encoder(checkpoint, backend)
    records = _records(batch, load_model(checkpoint), encoder, batch_size)
    return records[0] if single else records


def summarize(passages: list[dict]) -> dict:
    """Article summary: passage count, share of passages per topic, stance counts, cooperation index.

    The cooperation index is the mean over passages of P(cooperative) - P(friction),
    from -1 (all friction) to 1 (all cooperative); ``None`` for an article with no passage.
    """
    n = len(passages)
    return {
        "n_passages": n,
        "topic_share": {t: (sum(t in p["topics"] for p in passages) / n if n else 0.0) for t in TOPICS},
        "stance_counts": {s: sum(p["stance"] == s for p in passages) for s in STANCES},
        "cooperation_index": (
            sum(p["stance_scores"]["cooperative"] - p["stance_scores"]["friction"] for p in passages) / n
            if n
            else None
        ),
    }


def score_article(
    text: str,
    passage: str = "sentence",
    *,
    checkpoint: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: Backend = "torch",
) -> dict:
    """Split an article with the project's splitter and tag every passage.

    Returns ``{"passages": [...], "summary": {...}}``; each passage is a prediction
    plus ``index``, ``start`` and ``end`` (character offsets into ``text``).
    """
    if not isinstance(text, str):
        raise TypeError(f"score_article() takes the article as a string, got {type(text).__name__}")
    spans = split_passages(text, passage)
    texts = [p.text for p in spans]
    preds = predict(texts, checkpoint=checkpoint, batch_size=batch_size, backend=backend) if spans else []
    passages = [{"index": s.index, "start": s.start, "end": s.end, **p} for s, p in zip(spans, preds)]
    return {"passages": passages, "summary": summarize(passages)}
