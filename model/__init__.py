"""entente: tag passages of news about China-Russia relations with topics and stance.

``from model import predict, score_article`` is the public API. Heavy modules (torch,
transformers) load lazily on first use, so importing the package and running the
command line's ``--help`` stay fast.
"""

from __future__ import annotations

import os

# Nothing in this package may wait on a model hub: weights come from installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__all__ = ["predict", "score_article", "EntenteClassifier", "TOPICS", "STANCES", "__version__"]

from .checkpoint import package_version  # noqa: E402  (light: no third-party imports)
from .labels import STANCES, TOPICS  # noqa: E402
from .predict import predict, score_article  # noqa: E402  (torch loads on first call, not here)

__version__ = package_version()


def __getattr__(name: str):
    if name == "EntenteClassifier":
        from .classifier import EntenteClassifier

        return EntenteClassifier
    raise AttributeError(f"module 'model' has no attribute {name!r}")
