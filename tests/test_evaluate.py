"""Grouped cross-validation: folds by article, no test text in training, one report for all models."""

from __future__ import annotations

import json

import numpy as np
import pytest

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


def test_calibration_by_other_folds_never_sees_the_folds_own_labels():
    from training.evaluate import calibrated_by_other_folds

    rng = np.random.default_rng(0)
    n = 60
    texts = [f"Sentence {i} on {'gas' if i % 3 else 'trade'}." for i in range(n)]
    Y = (rng.uniform(size=(n, 4)) < 0.4).astype(int)
    PT = np.clip(Y * 0.6 + rng.uniform(0, 0.4, size=(n, 4)), 0.01, 0.99)
    s = rng.integers(0, 3, n)
    PS = rng.dirichlet(np.ones(3), size=n)
    folds = article_folds([str(i // 6) for i in range(n)], 5)
    a = calibrated_by_other_folds(texts, Y, PT, s, PS, folds)
    Y2, s2 = Y.copy(), s.copy()
    Y2[folds[0]], s2[folds[0]] = 1 - Y2[folds[0]], (s2[folds[0]] + 1) % 3  # change only fold 0's labels
    b = calibrated_by_other_folds(texts, Y2, PT, s2, PS, folds)
    for x, y in zip(a, b):
        assert np.array_equal(x[folds[0]], y[folds[0]])  # fold 0 is calibrated without its own labels
        assert not np.array_equal(x[folds[1]], y[folds[1]])  # the others do see them


def test_figures_can_be_recomputed_from_saved_predictions(tmp_path):
    """A fine-tuned-style run (no inner folds) is scored calibrated by the other folds,
    with its raw figures kept; rescoring its predictions file gives the same report."""
    out, preds = tmp_path / "cv.json", tmp_path / "oof.jsonl"
    common = ["--labels", str(FIXTURES / "tiny_labels.jsonl"), "--no-check", "--models", "minilm_frozen_logreg",
              "--folds", "3", "--params", '{"threshold_folds": 0}']
    assert main(common + ["--output", str(out), "--predictions", str(preds)]) == 0
    first = json.loads(out.read_text())["models"]["minilm_frozen_logreg"]
    assert first["calibration"].startswith("by the other folds") and "uncalibrated" in first
    again = tmp_path / "again.json"
    assert main(common + ["--output", str(again), "--from-predictions", str(preds)]) == 0
    second = json.loads(again.read_text())["models"]["minilm_frozen_logreg"]
    assert second["topics"] == first["topics"] and second["stance"]["macro_f1"] == first["stance"]["macro_f1"]
    assert second["stance"]["ece"] == pytest.approx(first["stance"]["ece"], abs=2e-3)  # scores stored rounded


def test_several_prediction_files_are_scored_as_their_average(tmp_path):
    """An output ensemble (runs with other seeds, say): the mean of the runs' out-of-fold
    probabilities, calibrated and scored like one model, in its own row."""
    common = ["--labels", str(FIXTURES / "tiny_labels.jsonl"), "--no-check", "--models", "minilm_frozen_logreg",
              "--folds", "3"]
    runs = []
    for C in (1.0, 0.05):
        preds = tmp_path / f"oof-{C}.jsonl"
        assert main(common + ["--params", json.dumps({"threshold_folds": 0, "C": C}),
                              "--output", str(tmp_path / f"cv-{C}.json"), "--predictions", str(preds)]) == 0
        runs.append(preds)
    out, averaged = tmp_path / "ensemble.json", tmp_path / "ensemble.jsonl"
    assert main(common + ["--params", '{"threshold_folds": 0}', "--output", str(out), "--predictions", str(averaged),
                          "--from-predictions", *map(str, runs)]) == 0
    row = json.loads(out.read_text())["models"]["minilm_frozen_logreg_ensemble"]
    assert row["ensemble"]["of"] == [str(path) for path in runs] and row["seconds"] is None
    assert row["calibration"].startswith("by the other folds")
    scores = [[json.loads(line)[key]["stance_scores"] for line in path.read_text().splitlines()]
              for path, key in ((runs[0], "minilm_frozen_logreg"), (runs[1], "minilm_frozen_logreg"),
                                (averaged, "minilm_frozen_logreg_ensemble"))]
    assert not np.allclose(scores[0], scores[1])
    assert np.allclose(np.mean(scores[:2], axis=0), scores[2], atol=1e-6)
    with pytest.raises(SystemExit) as usage:  # a row name for two models is a usage error
        main(common + ["--models", "majority", "lexicon", "--name", "x", "--output", str(out)])
    assert usage.value.code == 2


def test_an_interrupted_cross_validation_resumes_from_its_saved_folds(tiny_dataset, tmp_path, monkeypatch):
    import training.evaluate as evaluate

    ds = tiny_dataset
    texts, groups = ds["text"], ds["doc_id"]
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    folds = article_folds(groups, 3)
    first, PT, PS, _ = cross_validate("tfidf_logreg", texts, Y, s, groups, folds, log=lambda m: None,
                                      resume_dir=tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["fold-1.npz", "fold-2.npz", "fold-3.npz"]
    (tmp_path / "run" / "fold-3.npz").unlink()  # the run "stopped" before its last fold
    fitted = []
    real = evaluate.make_model

    def counting(name, **params):
        fitted.append(name)
        return real(name, **params)

    monkeypatch.setattr(evaluate, "make_model", counting)
    again, PT2, PS2, _ = cross_validate("tfidf_logreg", texts, Y, s, groups, folds, log=lambda m: None,
                                        resume_dir=tmp_path / "run")
    assert len(fitted) == 2  # fold 3 retrained, plus the template read for its parameters
    np.testing.assert_allclose(PT2, PT) and np.testing.assert_allclose(PS2, PS)
    assert again["stance"]["macro_f1"] == first["stance"]["macro_f1"]


def test_the_time_split_tests_only_dated_articles_from_the_first_test_year():
    from training.evaluate import time_split

    groups = ["old"] * 3 + ["new"] * 2 + ["undated"] * 2 + ["edge"]
    years = {"old": 2019, "new": 2025, "undated": None, "edge": 2024}
    assert time_split(groups, years).tolist() == [3, 4, 7]


def test_the_learning_curve_trains_on_growing_shares_of_whole_articles(tiny_dataset):
    from training.learning_curve import curve, gains_per_doubling, subsample_articles

    groups = ["a"] * 3 + ["b"] * 2 + ["c"] * 4 + ["d"]
    half = subsample_articles(np.arange(10), groups, 0.5, seed=1)
    assert len({groups[i] for i in half}) == 2 and all(groups.count(groups[i]) == sum(
        groups[j] == groups[i] for j in half) for i in half)  # whole articles only
    ds = tiny_dataset
    texts, g = ds["text"], ds["doc_id"]
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    points = curve("tfidf_logreg", texts, Y, s, g, article_folds(g, 3), fractions=(0.5, 1.0), log=lambda m: None)
    assert [p["fraction"] for p in points] == [0.5, 1.0]
    assert points[0]["train_sentences_mean"] < points[1]["train_sentences_mean"]
    assert len(gains_per_doubling(points, "stance_macro_f1")) == 1


def test_a_resumed_learning_curve_reads_finished_folds_back(tiny_dataset, tmp_path):
    from training.learning_curve import curve

    ds = tiny_dataset
    texts, g = ds["text"], ds["doc_id"]
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    folds = article_folds(g, 3)
    messages: list[str] = []

    def run():
        return curve("tfidf_logreg", texts, Y, s, g, folds, fractions=(0.5, 1.0), log=messages.append,
                     resume_dir=lambda fraction: tmp_path / f"share{fraction:g}")

    first = run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["share0.5", "share1"]
    messages.clear()
    again = run()
    assert sum("read from" in m for m in messages) == 2 * len(folds)
    for a, b in zip(first, again):
        assert (a["topic_macro_f1"], a["stance_macro_f1"], a["train_sentences_mean"]) == (
            b["topic_macro_f1"], b["stance_macro_f1"], b["train_sentences_mean"])
