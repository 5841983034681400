"""The plain-torch MiniLM body gives what transformers' BertModel gives, without importing it."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import model.encoder as enc
from model.encoder import SentenceEncoder, embed, encoder_path, load_tokenizer, mean_pool, tokenize_sorted

TEXTS = [
    "Russia will send more gas to China through the Power of Siberia pipeline.",
    "Kyiv",
    "Moscow reaffirmed that Taiwan is an inalienable part of China, and Beijing thanked it for its support.",
]


def test_same_tokens_and_embeddings_as_transformers():
    transformers = pytest.importorskip("transformers")
    path = str(encoder_path())
    ours = load_tokenizer()
    theirs = transformers.AutoTokenizer.from_pretrained(path)
    assert ours.encode(TEXTS) == theirs(TEXTS, add_special_tokens=True, truncation=False)["input_ids"]
    encoder = SentenceEncoder().eval()
    reference = transformers.AutoModel.from_pretrained(path).eval()
    with torch.inference_mode():
        for _, batch in tokenize_sorted(ours, TEXTS, batch_size=2):  # one padded batch, one not
            expected = mean_pool(reference(**batch).last_hidden_state, batch["attention_mask"])
            assert torch.allclose(encoder(**batch), expected, atol=1e-5)
    assert set(encoder.body.state_dict()) == set(reference.state_dict())  # checkpoints stay interchangeable


def test_training_mode_uses_dropout_and_eval_does_not():
    encoder = SentenceEncoder()
    _, batch = next(tokenize_sorted(load_tokenizer(), TEXTS, batch_size=3))
    encoder.train()
    a, b = encoder(**batch), encoder(**batch)
    assert not torch.allclose(a, b)
    encoder.eval()
    with torch.inference_mode():
        assert torch.equal(encoder(**batch), encoder(**batch))


def test_scoring_path_does_not_import_heavy_modules(tiny_checkpoint):
    code = (
        "import sys; from model import predict; predict('Gas deal.', checkpoint=sys.argv[1]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'transformers', 'sklearn', 'datasets', 'scipy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tiny_checkpoint)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_batches_are_sorted_by_length_and_padded_per_batch():
    texts = ["a b c d e f g h", "a", "a b c", "a b"]
    batches = list(tokenize_sorted(load_tokenizer(), texts, batch_size=2))
    assert [list(idx) for idx, _ in batches] == [[1, 3], [2, 0]]
    widths = [b["input_ids"].shape[1] for _, b in batches]
    assert widths[0] < widths[1]
    for idx, b in batches:
        assert np.array_equal(b["attention_mask"].sum(1).numpy(), (b["input_ids"] != 0).sum(1).numpy())


def test_token_budget_bounds_batches_and_leaves_embeddings_unchanged(monkeypatch):
    texts = [" ".join(["word"] * n) for n in (3, 40, 7, 120, 1, 60, 15, 200)]
    tokenizer = load_tokenizer()
    batches = list(tokenize_sorted(tokenizer, texts, batch_size=64, max_tokens=128))
    assert sorted(i for idx, _ in batches for i in idx) == list(range(len(texts)))  # every passage once
    for idx, b in batches:
        assert len(idx) == 1 or b["input_ids"].numel() <= 128  # only a passage alone may exceed the budget
    assert len(batches) > 1
    encoder = SentenceEncoder()
    budgeted = embed(encoder, tokenizer, texts)
    monkeypatch.setattr(enc, "MAX_BATCH_TOKENS", 10**6)
    unbudgeted = embed(encoder, tokenizer, texts)  # one batch of 8
    np.testing.assert_allclose(budgeted, unbudgeted, atol=1e-5)
