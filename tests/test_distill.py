"""Knowledge distillation: the stance term moves the student towards the teacher; off, it changes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.classifier import EntenteClassifier

pytestmark = pytest.mark.slow  # real fine-tuning of MiniLM on a tiny corpus


def _data(tiny_dataset, n: int = 16):
    ds = tiny_dataset
    return list(ds["text"])[:n], np.array(ds["topics"])[:n], np.array(ds["stance"])[:n]


@pytest.fixture(scope="module")
def plain(tiny_dataset):
    texts, Y, s = _data(tiny_dataset)
    return EntenteClassifier(**_params()).fit(texts, Y, s)


def _params(**extra):
    return dict(fine_tune=True, epochs=1, batch_size=8, threshold_folds=0, seed=3, **extra)


def test_distillation_off_trains_exactly_the_supervised_model(tiny_dataset, plain):
    texts, Y, s = _data(tiny_dataset)
    off = EntenteClassifier(**_params(distill_weight=0.0)).fit(
        texts, Y, s, soft_stance=np.full((len(texts), 3), 1 / 3))
    for a, b in zip(plain.heads_.state_dict().values(), off.heads_.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_the_teachers_stance_on_unlabelled_text_pulls_the_student(tiny_dataset, plain):
    texts, Y, s = _data(tiny_dataset)
    unlabelled = ["Moscow and Beijing quarrelled bitterly over the price of gas again.",
                  "Relations cooled as Chinese banks kept refusing Russian payments."] * 3
    friction = np.tile([0.02, 0.96, 0.02], (len(unlabelled), 1))  # the teacher reads friction
    student = EntenteClassifier(**_params(distill_weight=4.0)).fit(
        texts, Y, s, soft_stance=None, unlabelled_texts=unlabelled, unlabelled_soft_stance=friction)
    before = plain.predict_proba(unlabelled)[1][:, 1].mean()
    after = student.predict_proba(unlabelled)[1][:, 1].mean()
    assert after > before + 0.05


def test_distillation_needs_fine_tuning_and_matching_soft_labels(tiny_dataset):
    texts, Y, s = _data(tiny_dataset)
    with pytest.raises(ValueError, match="distill_weight"):
        EntenteClassifier(fine_tune=False, distill_weight=1.0).fit(texts, Y, s)
    with pytest.raises(ValueError, match="unlabelled_soft_stance"):
        EntenteClassifier(**_params(distill_weight=1.0)).fit(texts, Y, s, unlabelled_texts=["One more."],
                                                             unlabelled_soft_stance=None)


def test_the_student_uses_only_unlabelled_articles_of_the_training_period(tmp_path):
    from training.distill import unlabelled_units

    (tmp_path / "articles").mkdir()
    records = [("u1", "2019-05-01", 2019, "Putin met Xi in Moscow. They signed a gas deal."),
               ("u2", None, 2024, "Trade fell sharply in 2024. Banks refused payments."),
               ("u3", None, None, "Nobody knows when this was written. It may be recent.")]
    with open(tmp_path / "manifest.jsonl", "w") as fh:
        for doc, date, year, text in records:
            fh.write(json.dumps({"id": doc, "date": date, "year": year}) + "\n")
            (tmp_path / "articles" / f"{doc}.txt").write_text(text)
    assert unlabelled_units(2023, corpus=tmp_path) == ["Putin met Xi in Moscow.", "They signed a gas deal."]
    everything = unlabelled_units(None, corpus=tmp_path, exclude=["They signed a gas deal."])
    assert "They signed a gas deal." not in everything and len(everything) == 5


def test_the_distilled_student_trains_its_teacher_on_the_fold_it_is_given(tiny_dataset, monkeypatch):
    from training.distill import DistilledStudent

    texts, Y, s = _data(tiny_dataset)
    seen = {}

    def fake_teacher(self, train_texts, Y_, s_, others):
        seen["train"], seen["others"] = list(train_texts), list(others)
        return np.full((len(train_texts), 3), 1 / 3), np.full((len(others), 3), 1 / 3)

    monkeypatch.setattr(DistilledStudent, "teacher_stance", fake_teacher)
    student = DistilledStudent(epochs=1, batch_size=8).fit(texts[:10], Y[:10], s[:10],
                                                           unlabelled_texts=["Extra text here."])
    assert seen["train"] == texts[:10] and seen["others"] == ["Extra text here."]
    assert student.predict_proba(["Putin met Xi."])[1].shape == (1, 3)
