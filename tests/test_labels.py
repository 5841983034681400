import pytest

from model.labels import STANCES, TOPICS, order_topics, stance_to_id, topics_to_multi_hot


def test_label_names_and_order_follow_the_codebook():
    assert TOPICS == ("security", "energy", "taiwan", "ukraine")
    assert STANCES == ("cooperative", "friction", "neutral")


def test_order_topics_sorts_and_rejects_unknown():
    assert order_topics(["ukraine", "security", "ukraine"]) == ["security", "ukraine"]
    with pytest.raises(ValueError, match="unknown topic"):
        order_topics(["trade"])


def test_encodings():
    assert topics_to_multi_hot(["energy", "ukraine"]) == [0, 1, 0, 1]
    assert topics_to_multi_hot([]) == [0, 0, 0, 0]
    assert stance_to_id("friction") == 1
    with pytest.raises(ValueError, match="unknown stance"):
        stance_to_id("hostile")
