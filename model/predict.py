"""The public prediction API: ``predict`` for passages, ``score_article`` for whole articles.

A checkpoint is loaded once per folder and kept in a small cache, so repeated calls
cost only the encoder's forward pass. Two encoder backends give the embeddings the
heads read: ``"torch"`` (float32, the default) and ``"onnx"`` (the int8 graph written by
``entente export-onnx``, run by ONNX Runtime; needs the ``onnx`` extra).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any, Literal, overload

from . import checkpoint as checkpoints
from .labels import STANCES, TOPICS
from .text import normalize_space, split_passages

DEFAULT_BATCH_SIZE = 64
# score_article scores a long article this many batches at a time, reporting progress after each.
PROGRESS_BATCHES = 16
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

    Anything but a string or an ordered collection of strings (``None``, a number,
    ``bytes``, a dict, a set, a list with a non-string item) is a ``TypeError``; an empty
    or whitespace-only passage is a ``ValueError`` naming its position in the list.
    """
    single = isinstance(texts, str)
    batch = [texts] if single else _as_passages(texts)
    _check_passages(batch, single)
    _check_batch_size(batch_size)
    if not batch:
        return []
    encoder = load_encoder(checkpoint, backend)
    records = _records(batch, load_model(checkpoint), encoder, batch_size)
    return records[0] if single else records


_TYPE_HELP = "predict() takes a string or a list of strings"


def _as_passages(texts: Any) -> list:
    """``texts`` as a list, refusing what is not an ordered collection of passages.

    ``None``, a number, ``bytes`` (an undecoded file: which encoding?), a dict (its keys
    would be scored) and a set (no order to return results in) are a ``TypeError``; any
    other iterable (a list, a tuple, a generator, a NumPy array or pandas Series of
    strings) is taken in order.
    """
    if isinstance(texts, (bytes, bytearray, memoryview)):
        raise TypeError(f"{_TYPE_HELP}, got {type(texts).__name__}; decode it first, e.g. data.decode('utf-8')")
    if texts is None or isinstance(texts, (Mapping, Set)) or not isinstance(texts, Iterable):
        raise TypeError(f"{_TYPE_HELP}, got {type(texts).__name__}")
    return list(texts)


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer of at least 1, not {batch_size!r}")


def _check_passages(batch: list, single: bool) -> None:
    """Every passage a non-empty ``str`` of valid Unicode, or an error naming the first that is not.

    A non-string is a ``TypeError``; an empty or whitespace-only passage (nothing to
    tag: it would still get a confident stance) or one with a lone surrogate is a
    ``ValueError``. ``single``: the passage was given alone, so no position is named.
    """
    for i, text in enumerate(batch):
        where = "the passage" if single else f"passage {i}"
        if not isinstance(text, str):
            raise TypeError(f"{_TYPE_HELP}, got a list with an item of type {type(text).__name__} at position {i}")
        if not normalize_space(text):
            raise ValueError(f"{where} is empty or only whitespace; there is nothing to tag")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{where} is not valid Unicode text (a lone surrogate U+{ord(text[e.start]):04X} "
                             f"at character {e.start})") from None


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
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Split an article with the project's splitter and tag every passage.

    Returns ``{"passages": [...], "summary": {...}}``; each passage is a prediction
    plus ``index``, ``start`` and ``end``: character offsets into ``text`` as given (a
    file's text as decoded, after a byte-order mark is removed; line ends, CRLF included,
    count as they are).

    ``progress``, if given, is called as ``progress(scored, total)`` once the article is
    split (``scored`` 0) and after each ``PROGRESS_BATCHES * batch_size`` passages, so a
    caller can show how a long article is going.
    """
    if not isinstance(text, str):
        raise TypeError(f"score_article() takes the article as a string, got {type(text).__name__}")
    _check_batch_size(batch_size)
    spans = split_passages(text, passage)
    texts = [p.text for p in spans]
    preds: list[dict] = []
    if progress is not None:
        progress(0, len(texts))
    chunk = PROGRESS_BATCHES * batch_size
    for i in range(0, len(texts), chunk):
        preds += predict(texts[i : i + chunk], checkpoint=checkpoint, batch_size=batch_size, backend=backend)
        if progress is not None:
            progress(len(preds), len(texts))
    passages = [{"index": s.index, "start": s.start, "end": s.end, **p} for s, p in zip(spans, preds)]
    return {"passages": passages, "summary": summarize(passages)}
