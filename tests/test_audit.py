"""The label audit ranks contradicted labels first and never shows a blind reader the label."""

import numpy as np

from training.audit import blind, rank_units, review_samples


def _records(n: int) -> list[dict]:
    stances = ["cooperative", "friction", "neutral"]
    return [
        {"id": f"d{i // 10}-{i}", "doc_id": f"d{i // 10}", "sent_idx": i % 10, "text": f"unit {i}",
         "topics": ["energy"] if i % 4 == 0 else [], "stance": stances[i % 3]}
        for i in range(n)
    ]


def test_a_label_the_model_confidently_contradicts_ranks_first():
    records = _records(60)
    PS = np.full((60, 3), 0.05)
    PT = np.zeros((60, 4)) + 0.05
    for i, r in enumerate(records):  # the model agrees with every label before one is flipped
        PS[i, ["cooperative", "friction", "neutral"].index(r["stance"])] = 0.9
        PT[i, 1] = 0.95 if "energy" in r["topics"] else 0.05
    records[7]["stance"] = "cooperative"  # unit 7 reads as friction to the model (7 % 3 == 1)
    ranked = rank_units(records, PT, PS)
    assert ranked[0]["id"] == records[7]["id"]
    assert "stance" in ranked[0]["flagged"] and ranked[0]["model_stance"] == "friction"
    assert sum(bool(u["flagged"]) for u in ranked) <= 3


def test_review_samples_are_disjoint_and_blind():
    records = _records(50)
    ranked = rank_units(records, np.full((50, 4), 0.5), np.full((50, 3), 1 / 3))
    top, sample = review_samples(ranked, top=10, n_random=15, seed=1)
    assert len(top) == 10 and len(sample) == 15
    assert not {u["id"] for u in top} & {u["id"] for u in sample}
    assert set(blind(top[0])) == {"id", "doc_id", "sent_idx", "text"}
