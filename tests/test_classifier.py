"""Real training on a small fixture: predictions, thresholds, checkpoints, determinism."""

import json
import logging

import numpy as np
import pytest

from model.classifier import EntenteClassifier

GAS = "Russia and China signed a new deal to supply natural gas through a pipeline."
DRILLS = "Chinese and Russian warships held joint naval drills near Japan."


def test_tiny_training_learns_the_training_sentences(tiny_model, tiny_dataset):
    Y, s = tiny_model.predict(tiny_dataset["text"])
    gold_Y, gold_s = np.array(tiny_dataset["topics"]), np.array(tiny_dataset["stance"])
    assert (Y == gold_Y).mean() > 0.85
    assert (s == gold_s).mean() > 0.6
    pt, ps = tiny_model.predict_proba([GAS, DRILLS])
    assert pt.shape == (2, 4) and ps.shape == (2, 3)
    assert np.allclose(ps.sum(axis=1), 1.0, atol=1e-5)
    assert pt[0, 1] > pt[0, 0] and pt[1, 0] > pt[1, 1]  # gas -> energy, drills -> security


def test_round_trip_gives_identical_predictions(tiny_model, tiny_checkpoint):
    loaded = EntenteClassifier.from_pretrained(tiny_checkpoint)
    a, b = tiny_model.predict_proba([GAS, DRILLS]), loaded.predict_proba([GAS, DRILLS])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(loaded.thresholds_, tiny_model.thresholds_)
    assert loaded.temperature_ == tiny_model.temperature_


def test_checkpoint_has_config_safetensors_and_no_pickle(tiny_checkpoint):
    names = {p.name for p in tiny_checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.json", "model_card.md"} <= names
    assert not any(n.endswith((".pkl", ".pickle", ".joblib", ".bin", ".pt")) for n in names)
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    assert cfg["topics"] == ["security", "energy", "taiwan", "ukraine"]
    assert set(cfg["thresholds"]) == set(cfg["topics"])
    assert cfg["encoder"]["name"].endswith("all-MiniLM-L6-v2") and cfg["training_data_hash"]


def test_thresholds_are_applied_as_saved(tiny_checkpoint, tmp_path):
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    pt, _ = EntenteClassifier.from_pretrained(tiny_checkpoint).predict_proba([GAS])
    assert pt[0, 1] > 0.02
    for value, expected in ((0.01, 1), (0.999, 0)):
        edited = tmp_path / f"t{value}"
        edited.mkdir()
        for f in tiny_checkpoint.iterdir():
            (edited / f.name).write_bytes(f.read_bytes())
        cfg["thresholds"]["energy"] = value
        (edited / "config.json").write_text(json.dumps(cfg))
        Y, _ = EntenteClassifier.from_pretrained(edited).predict([GAS])
        assert Y[0, 1] == expected


def test_keyword_cue_calibration_is_fitted_saved_and_applied(tiny_model, tmp_path):
    """Where the out-of-fold logit says nothing and the codebook cue decides the label,
    calibration must weigh the cue, save that weight, and apply it after loading."""
    texts = [f"Talks on Crimea, round {i}." for i in range(20)] + [f"Talks on trade, round {i}." for i in range(20)]
    Y = np.zeros((40, 4), dtype=int)
    Y[:20, 3] = 1  # ukraine exactly where the cue "Crimea" is
    Y[::2, 1] = 1  # energy: unrelated to any cue
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.3, 0.7, size=(40, 4))  # uninformative head
    s, logits = np.arange(40) % 3, rng.normal(size=(40, 3))
    m = EntenteClassifier.from_pretrained(tiny_model.save_pretrained(tmp_path / "base"))
    m.calibrate(texts, Y, probs, s, logits)
    assert m.topic_calibration_[3, 1] > 2 and abs(m.topic_calibration_[1, 1]) < 0.5  # cue weights
    pt, _ = m.predict_proba(["Talks on Crimea, round 99.", "Talks on trade, round 99."])
    assert pt[0, 3] > 0.7 > 0.3 > pt[1, 3]
    assert m.predict(["Talks on Crimea, round 99."])[0][0, 3] == 1
    loaded = EntenteClassifier.from_pretrained(m.save_pretrained(tmp_path / "cued"))
    assert np.array_equal(loaded.topic_calibration_, m.topic_calibration_)
    assert np.array_equal(loaded.predict_proba(texts[:3])[0], m.predict_proba(texts[:3])[0])
    no_cues = EntenteClassifier(topic_cues=False).calibrate(texts, Y, probs, s, logits)
    assert not no_cues.topic_calibration_[:, 1].any()


def test_calibrate_refuses_inputs_of_different_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        EntenteClassifier().calibrate(["a", "b"], np.zeros((3, 4)), np.zeros((3, 4)), np.zeros(3), np.zeros((3, 3)))


def test_same_seed_same_predictions(tiny_dataset):
    ds = tiny_dataset
    args = (ds["text"], np.array(ds["topics"]), np.array(ds["stance"]))
    a = EntenteClassifier(threshold_folds=0, seed=3).fit(*args).predict_proba([GAS])
    b = EntenteClassifier(threshold_folds=0, seed=3).fit(*args).predict_proba([GAS])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.slow
def test_fine_tuning_runs_reports_each_epoch_and_round_trips(tiny_dataset, tmp_path, caplog):
    ds = tiny_dataset
    clf = EntenteClassifier(fine_tune=True, epochs=2, batch_size=8, threshold_folds=0, seed=0)
    with caplog.at_level(logging.INFO, logger="model.heads"):
        clf.fit(ds["text"], np.array(ds["topics"]), np.array(ds["stance"]))
    assert "epoch 1/2: mean loss" in caplog.text and "epoch 2/2: mean loss" in caplog.text
    clf.save_pretrained(tmp_path / "ft")
    assert (tmp_path / "ft" / "encoder.safetensors").exists()
    loaded = EntenteClassifier.from_pretrained(tmp_path / "ft")
    a, b = clf.predict_proba([GAS]), loaded.predict_proba([GAS])
    assert np.allclose(a[0], b[0], atol=2e-3) and np.allclose(a[1], b[1], atol=2e-3)  # float16 storage


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        EntenteClassifier().predict_proba(["x"])


def test_loading_a_missing_checkpoint_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        EntenteClassifier.from_pretrained(tmp_path)


def test_scikit_learn_clone_get_params_and_set_params():
    from sklearn.base import clone

    model = EntenteClassifier(C=2.0, threshold_folds=0)
    copy = clone(model)
    assert copy is not model and copy.get_params(deep=True) == model.get_params(deep=False)
    assert copy.set_params(C=1.0) is copy and copy.C == 1.0 and model.C == 2.0
    with pytest.raises(ValueError, match="no parameter"):
        model.set_params(epoch=3)


@pytest.mark.parametrize("params, message", [
    ({"C": 0}, "C must be a positive number"),
    ({"class_weight": "auto"}, "class_weight must be"),
    ({"threshold_folds": 1}, "threshold_folds must be 0"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
])
def test_hyperparameters_are_validated_at_fit(params, message):
    model = EntenteClassifier(**params)  # storing them is fine (scikit-learn convention) ...
    with pytest.raises(ValueError, match=message):  # ... fitting is not
        model.fit(["a", "b"], [[0, 0, 0, 0], [1, 0, 0, 0]], [0, 1])
