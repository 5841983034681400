"""The two heads on the sentence embedding, and how they are trained.

``Heads`` holds a multi-label topic head (one logit per topic) and a stance head (one
logit per stance), both linear. Its parameter names (``topic.weight``, ``stance.bias``
...) are the tensor names of a checkpoint's ``model.safetensors``.

Two ways to train them, which ``EntenteClassifier`` combines:

* ``fit_linear_heads``: a logistic regression per topic and one for stance on frozen
  embeddings (scikit-learn), copied into the torch heads;
* ``fine_tune``: encoder and heads trained together on both losses (binary
  cross-entropy with positive weights for topics, class-weighted cross-entropy for
  stance), starting from the linear heads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .encoder import SentenceEncoder, Tokenizer, tokenize_sorted
from .labels import STANCES, TOPICS

# The logit a head gives a label that is always (or never) present in its training data.
CONSTANT_LOGIT = 10.0

log = logging.getLogger(__name__)


class Heads(nn.Module):
    """A linear topic head ``[dim -> 4]`` and a linear stance head ``[dim -> 3]``."""

    def __init__(self, dim: int):
        super().__init__()
        self.topic = nn.Linear(dim, len(TOPICS))
        self.stance = nn.Linear(dim, len(STANCES))

    @property
    def dim(self) -> int:
        return self.topic.in_features

    def forward(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.topic(embeddings), self.stance(embeddings)

    def logits(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Topic and stance logits for ``[n, dim]`` embeddings from any encoder backend."""
        x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
        with torch.inference_mode():
            topic, stance = self(x)
        return topic.numpy(), stance.numpy()

    @staticmethod
    def expected_shapes(dim: int) -> dict[str, tuple[int, ...]]:
        """The tensors a checkpoint's heads file must hold, with their shapes."""
        return {"topic.weight": (len(TOPICS), dim), "topic.bias": (len(TOPICS),),
                "stance.weight": (len(STANCES), dim), "stance.bias": (len(STANCES),)}


def fit_linear_heads(X: np.ndarray, Y: np.ndarray, s: np.ndarray, C: float, class_weight: str | None) -> Heads:
    """Logistic regressions on embeddings ``X`` ``[n, dim]``, copied into torch heads.

    A topic always (or never) present in ``Y`` gets a constant logit; so does a stance
    when only one occurs in ``s``.
    """
    from sklearn.linear_model import LogisticRegression

    heads = Heads(X.shape[1])
    with torch.no_grad():
        for label in range(len(TOPICS)):
            if 0 < Y[:, label].sum() < len(Y):
                lr = LogisticRegression(C=C, class_weight=class_weight, max_iter=2000).fit(X, Y[:, label])
                heads.topic.weight[label] = torch.from_numpy(lr.coef_[0]).float()
                heads.topic.bias[label] = float(lr.intercept_[0])
            else:
                heads.topic.weight[label] = 0.0
                heads.topic.bias[label] = CONSTANT_LOGIT if Y[:, label].all() else -CONSTANT_LOGIT
        present = np.unique(s)
        heads.stance.weight.zero_()
        heads.stance.bias.fill_(-CONSTANT_LOGIT)
        if len(present) == 1:
            heads.stance.bias[int(present[0])] = CONSTANT_LOGIT
        else:
            lr = LogisticRegression(C=C, class_weight=class_weight, max_iter=2000).fit(X, s)
            coef, intercept = lr.coef_, lr.intercept_
            if len(present) == 2:  # binary sklearn output: one row for class present[1]
                coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            for row, stance in enumerate(present):
                heads.stance.weight[int(stance)] = torch.from_numpy(coef[row]).float()
                heads.stance.bias[int(stance)] = float(intercept[row])
    return heads


def fine_tune(
    encoder: SentenceEncoder,
    tokenizer: Tokenizer,
    heads: Heads,
    texts: Sequence[str],
    Y: np.ndarray,
    s: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    head_learning_rate: float,
    batch_size: int,
    class_weight: str | None,
    seed: int,
    soft_stance: np.ndarray | None = None,
    unlabelled: Sequence[str] = (),
    unlabelled_soft_stance: np.ndarray | None = None,
    distill_weight: float = 0.0,
    distill_temperature: float = 2.0,
) -> None:
    """Train ``encoder`` and ``heads`` together in place (AdamW, linear decay, gradient clipping at 1).

    With ``class_weight``, rare topics weigh more in the binary cross-entropy (positive
    weights clipped to 1..10) and rare stances in the cross-entropy ("balanced" weights).

    Knowledge distillation (``distill_weight > 0``): a teacher's stance probabilities
    (``soft_stance`` for the labelled ``texts``, ``unlabelled_soft_stance`` for the
    ``unlabelled`` texts) are softened by ``distill_temperature`` and the student's
    softened stance distribution is pulled towards them by a KL term, scaled by
    ``distill_weight * T**2`` (Hinton et al.). Unlabelled texts carry only that term:
    topics are learned from gold labels alone (soft topic targets from a teacher hurt
    topics in this project's measurements). Without distillation the loop is exactly the
    supervised one.
    """
    if distill_weight > 0:
        _fine_tune_distilled(encoder, tokenizer, heads, texts, Y, s, epochs=epochs, learning_rate=learning_rate,
                             head_learning_rate=head_learning_rate, batch_size=batch_size,
                             class_weight=class_weight, seed=seed, soft_stance=soft_stance, unlabelled=unlabelled,
                             unlabelled_soft_stance=unlabelled_soft_stance, distill_weight=distill_weight,
                             distill_temperature=distill_temperature)
        return
    texts = list(texts)
    generator = torch.Generator().manual_seed(seed)
    topic_loss, stance_loss, optimizer, schedule = _training_setup(
        encoder, heads, Y, s, class_weight, learning_rate, head_learning_rate, epochs * -(-len(texts) // batch_size))
    topic_targets, stance_targets = torch.tensor(Y, dtype=torch.float32), torch.tensor(s)

    def batch_loss(rows, topic_logits, stance_logits):
        return topic_loss(topic_logits, topic_targets[rows]) + stance_loss(stance_logits, stance_targets[rows])

    _train(encoder, tokenizer, heads, texts, epochs, batch_size, generator, optimizer, schedule, batch_loss)


def _train(encoder, tokenizer, heads, texts: list[str], epochs: int, batch_size: int, generator, optimizer, schedule,
           batch_loss) -> None:
    """The loop both trainings share: shuffled batches, ``batch_loss(rows, topic_logits, stance_logits)``,
    gradient clipping at 1, one scheduler step per batch; the encoder is left in eval mode.

    Fine-tuning runs for minutes to tens of minutes on a CPU: each epoch's end is logged
    (``model.heads`` logger, level INFO) with its mean loss and duration."""
    encoder.train()
    batches = -(-len(texts) // batch_size)
    log.info("fine-tuning on %d texts: %d epochs of %d batches", len(texts), epochs, batches)
    for epoch in range(epochs):
        order = torch.randperm(len(texts), generator=generator).numpy()
        started, total = time.perf_counter(), 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            # one batch, reordered by token length: align the rows with that order
            sub_idx, batch = next(tokenize_sorted(tokenizer, [texts[i] for i in idx], len(idx)))
            topic_logits, stance_logits = heads(encoder(**batch))
            loss = batch_loss(idx[sub_idx], topic_logits, stance_logits)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        log.info("epoch %d/%d: mean loss %.4f, %.0f s", epoch + 1, epochs, total / batches,
                 time.perf_counter() - started)
    encoder.eval()


def _training_setup(encoder, heads, Y: np.ndarray, s: np.ndarray, class_weight: str | None, learning_rate: float,
                    head_learning_rate: float, steps: int):
    """The losses (class-weighted on the gold labels), AdamW and the linear decay over ``steps``."""
    positives = Y.sum(axis=0)
    pos_weight = torch.tensor(np.clip((len(Y) - positives) / np.maximum(positives, 1), 1.0, 10.0),
                              dtype=torch.float32)
    counts = np.bincount(s, minlength=len(STANCES)).astype(np.float64)
    stance_weight = torch.tensor(len(s) / (len(STANCES) * np.maximum(counts, 1)), dtype=torch.float32)
    topic_loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight if class_weight else None)
    stance_loss = nn.CrossEntropyLoss(weight=stance_weight if class_weight else None)
    optimizer = torch.optim.AdamW([
        {"params": encoder.parameters(), "lr": learning_rate},
        {"params": heads.parameters(), "lr": head_learning_rate},
    ], weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(steps, 1)))
    return topic_loss, stance_loss, optimizer, schedule


def _soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Teacher probabilities softened as logits divided by ``temperature`` would be."""
    logp = np.log(np.clip(probs, 1e-8, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    soft = np.exp(logp)
    return soft / soft.sum(axis=1, keepdims=True)


def _fine_tune_distilled(encoder, tokenizer, heads, texts, Y, s, *, epochs, learning_rate, head_learning_rate,
                         batch_size, class_weight, seed, soft_stance, unlabelled, unlabelled_soft_stance,
                         distill_weight, distill_temperature) -> None:
    """``fine_tune`` with a distillation term on stance, over labelled and unlabelled texts."""
    texts, unlabelled = list(texts), list(unlabelled)
    n, m = len(texts), len(unlabelled)
    if soft_stance is None and not m:
        raise ValueError("distillation needs teacher stance probabilities (soft_stance or unlabelled_soft_stance)")
    if m and (unlabelled_soft_stance is None or len(unlabelled_soft_stance) != m):
        raise ValueError("unlabelled_soft_stance must give one row of stance probabilities per unlabelled text")
    if soft_stance is not None and len(soft_stance) != n:
        raise ValueError("soft_stance must give one row of stance probabilities per labelled text")
    generator = torch.Generator().manual_seed(seed)
    all_texts = texts + unlabelled
    topic_loss, stance_loss, optimizer, schedule = _training_setup(
        encoder, heads, Y, s, class_weight, learning_rate, head_learning_rate,
        epochs * -(-len(all_texts) // batch_size))
    soft = np.zeros((n + m, len(STANCES)))
    has_soft = np.zeros(n + m, dtype=bool)
    if soft_stance is not None:
        soft[:n], has_soft[:n] = _soften(np.asarray(soft_stance, dtype=np.float64), distill_temperature), True
    if m:
        soft[n:] = _soften(np.asarray(unlabelled_soft_stance, dtype=np.float64), distill_temperature)
        has_soft[n:] = True
    soft_targets = torch.tensor(soft, dtype=torch.float32)
    topic_targets, stance_targets = torch.tensor(Y, dtype=torch.float32), torch.tensor(s)
    scale = distill_weight * distill_temperature**2

    def batch_loss(rows, topic_logits, stance_logits):
        loss = torch.zeros(())
        gold = torch.from_numpy(rows < n)
        if gold.any():  # topics and the gold stance: labelled rows only
            gold_rows = rows[rows < n]
            loss = loss + topic_loss(topic_logits[gold], topic_targets[gold_rows])
            loss = loss + stance_loss(stance_logits[gold], stance_targets[gold_rows])
        distilled = torch.from_numpy(has_soft[rows])
        if distilled.any():
            log_student = torch.log_softmax(stance_logits[distilled] / distill_temperature, dim=1)
            target = soft_targets[rows[has_soft[rows]]]
            loss = loss + scale * nn.functional.kl_div(log_student, target, reduction="batchmean")
        return loss

    _train(encoder, tokenizer, heads, all_texts, epochs, batch_size, generator, optimizer, schedule, batch_loss)
