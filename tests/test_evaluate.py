"""Grouped cross-validation: folds by article, no test text in training, one report for all models."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import FIXTURES
from training.evaluate import article_folds, cross_validate, main, train_indices


def test_folds_split_by_article_and_cover_every_sentence():
    groups = ["a"] * 5 + ["b"] * 3 + ["c"] * 4 + ["d"] * 2 + ["e"] * 6
    folds = article_folds(groups, n_folds=3)
    seen = np.concatenate(folds)
    assert sorted(seen.tolist()) == list(range(len(groups)))
    for test in folds:
        test_articles = {groups[i] for i in test}
        train = [i for i in range(len(groups)) if i not in set(test.tolist())]
        assert not test_articles & {groups[i] for i in train}


def test_training_rows_drop_duplicates_and_texts_of_the_test_fold():
    texts = ["A.", "B.", "A.", "C.", "C.", "D."]
    keep = train_indices(texts, np.array([0]))  # "A." is tested: neither copy may train
    assert [texts[i] for i in keep] == ["B.", "C.", "D."]


def test_cross_validation_report_on_a_tiny_corpus(tmp_path):
    out, preds = tmp_path / "cv.json", tmp_path / "oof.jsonl"
    args = ["--labels", str(FIXTURES / "tiny_labels.jsonl"), "--no-check", "--models", "majority", "tfidf_logreg",
            "--folds", "3", "--output", str(out), "--predictions", str(preds)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["models"]) == {"majority", "tfidf_logreg"}
    assert len(report["folds"]) == 3
    r = report["models"]["tfidf_logreg"]
    assert 0 <= r["topics"]["macro_f1"] <= 1 and 0 <= r["stance"]["macro_f1"] <= 1
    lo, hi = r["bootstrap_95"]["stance_macro_f1"]
    assert lo <= hi
    assert report["models"]["majority"]["topics"]["macro_f1"] == 0.0  # no topic is the majority for each label
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(rows) == 40 and {"majority", "tfidf_logreg"} <= set(rows[0])


def test_same_folds_for_every_model():
    from training.data import read_jsonl, to_dataset

    ds = to_dataset(read_jsonl(FIXTURES / "tiny_labels.jsonl"))
    folds = article_folds(ds["doc_id"], 3)
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    r1 = cross_validate("majority", ds["text"], Y, s, ds["doc_id"], folds, log=lambda m: None)[0]
    r2 = cross_validate("majority", ds["text"], Y, s, ds["doc_id"], article_folds(ds["doc_id"], 3), log=lambda m: None)[0]
    assert r1["stance"] == r2["stance"]
