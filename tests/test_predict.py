"""The public API's contract, on a tiny checkpoint and on the shipped default."""

import json

import pytest

from model import predict, score_article
from model.checkpoint import default_checkpoint
from model.predict import load_model

KEYS = {"text", "topics", "topic_scores", "stance", "stance_scores"}


def test_predict_one_string_gives_one_dict(tiny_checkpoint):
    r = predict("Russia will send more gas to China through Power of Siberia.", checkpoint=tiny_checkpoint)
    assert isinstance(r, dict) and set(r) == KEYS
    assert list(r["topic_scores"]) == ["security", "energy", "taiwan", "ukraine"]
    assert r["stance"] in ("cooperative", "friction", "neutral")
    assert sum(r["stance_scores"].values()) == pytest.approx(1.0, abs=1e-6)
    assert r["stance"] == max(r["stance_scores"], key=r["stance_scores"].get)
    json.dumps(r)  # JSON-serialisable


def test_predict_list_keeps_order_and_topics_follow_thresholds(tiny_checkpoint):
    texts = ["Joint naval drills were held.", "A gas pipeline deal was signed.", "Taiwan is part of China."]
    out = predict(texts, checkpoint=tiny_checkpoint, batch_size=2)
    assert [r["text"] for r in out] == texts
    model = load_model(tiny_checkpoint)
    for r in out:
        expected = [t for t, th in zip(r["topic_scores"], model.thresholds_) if r["topic_scores"][t] >= round(th, 4)]
        assert r["topics"] == expected


def test_predict_empty_list_and_bad_input(tiny_checkpoint):
    assert predict([], checkpoint=tiny_checkpoint) == []
    with pytest.raises(TypeError):
        predict([1, 2], checkpoint=tiny_checkpoint)
    with pytest.raises(ValueError):
        predict("x", checkpoint=tiny_checkpoint, batch_size=0)


def test_model_is_loaded_once(tiny_checkpoint):
    assert load_model(tiny_checkpoint) is load_model(tiny_checkpoint)


def test_score_article_offsets_and_summary(tiny_checkpoint):
    text = "MOSCOW --- Putin met Xi in Beijing. They signed a gas deal.\n\nTrade grew fast."
    r = score_article(text, checkpoint=tiny_checkpoint)
    ps = r["passages"]
    assert [p["index"] for p in ps] == [0, 1, 2]
    for p in ps:
        assert text[p["start"] : p["end"]] == p["text"]
    s = r["summary"]
    assert s["n_passages"] == 3
    assert sum(s["stance_counts"].values()) == 3
    assert -1 <= s["cooperation_index"] <= 1
    para = score_article(text, passage="paragraph", checkpoint=tiny_checkpoint)
    assert [p["text"] for p in para["passages"]] == ["Putin met Xi in Beijing. They signed a gas deal.", "Trade grew fast."]


def test_score_article_with_nothing_to_score(tiny_checkpoint):
    r = score_article("   \n", checkpoint=tiny_checkpoint)
    assert r["passages"] == [] and r["summary"]["cooperation_index"] is None


def test_long_passage_is_truncated_with_a_warning(tiny_checkpoint, caplog):
    long = "Russia and China agreed to cooperate on gas. " * 80
    with caplog.at_level("WARNING"):
        r = predict(long, checkpoint=tiny_checkpoint)
    assert r["text"] == long
    assert any("truncated" in m for m in caplog.messages)


@pytest.mark.skipif(default_checkpoint() is None, reason="no shipped checkpoint yet")
def test_shipped_default_predicts_the_obvious_cases():
    out = predict([
        "Russia will send more gas to China through the Power of Siberia pipeline.",
        "Chinese and Russian warships began joint naval exercises in the East China Sea.",
        "Moscow reaffirmed that Taiwan is an inalienable part of China.",
        "Russian troops shelled Kyiv as the war in Ukraine entered its second year.",
        "Xi called Putin his best friend and the two signed agreements to deepen their partnership.",
    ])
    assert "energy" in out[0]["topics"]
    assert "security" in out[1]["topics"]
    assert "taiwan" in out[2]["topics"]
    assert "ukraine" in out[3]["topics"]
    assert out[4]["stance"] == "cooperative"
