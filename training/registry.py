"""The models that training and evaluation know, by short name: the one registry.

Each entry says how to build the model (with its parameters), whether
``python -m training.train`` can write a checkpoint of it (``trainable``: the
``EntenteClassifier`` families), and whether ``python -m training.evaluate`` runs it by
default (``fast``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.classifier import EntenteClassifier
from training.baselines import LexiconBaseline, MajorityBaseline, SetFitBaseline, TeacherLogReg, TfidfLogReg


def _distilled_student(**params):
    from training.distill import DistilledStudent  # the teacher's dependencies load only when used

    return DistilledStudent(**params)


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model, and what it is for."""

    build: Callable[..., Any]
    description: str
    trainable: bool = False
    fast: bool = False


MODELS: dict[str, ModelSpec] = {
    "majority": ModelSpec(MajorityBaseline, "each label's majority decision", fast=True),
    "lexicon": ModelSpec(LexiconBaseline, "keyword cues for topics and stance", fast=True),
    "tfidf_logreg": ModelSpec(TfidfLogReg, "TF-IDF word n-grams, logistic regression", fast=True),
    "minilm_frozen_logreg": ModelSpec(lambda **p: EntenteClassifier(fine_tune=False, **p),
                                      "frozen MiniLM embeddings, logistic-regression heads",
                                      trainable=True, fast=True),
    "mpnet_frozen_logreg": ModelSpec(TeacherLogReg, "frozen all-mpnet-base-v2 embeddings, logistic-regression "
                                     "heads (the distillation teacher; needs `make teacher`)"),
    "setfit": ModelSpec(SetFitBaseline, "the setfit package on the same MiniLM"),
    "minilm_finetune": ModelSpec(lambda **p: EntenteClassifier(fine_tune=True, **p),
                                 "MiniLM fine-tuned with both heads (the shipped default)", trainable=True),
    "minilm_distilled": ModelSpec(_distilled_student,
                                  "MiniLM fine-tuned on gold labels plus the frozen-mpnet teacher's stance on "
                                  "labelled and unlabelled units (needs `make teacher`)", trainable=True),
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
TRAINABLE: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.trainable)
FAST: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.fast)


def make_model(name: str, **params):
    """Build the model ``name`` with ``params``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name].build(**params)
