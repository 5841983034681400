"""The codebook's keyword cues: one column per topic, by unambiguous names."""

import numpy as np

from model.cues import topic_cues


def test_cues_mark_the_topics_named_in_a_sentence():
    rows = topic_cues([
        "Gazprom will raise gas exports through Power of Siberia.",
        "Moscow annexed Crimea in 2014.",
        "Beijing restated the one-China principle on Taiwan.",
        "The two navies held joint drills.",
        "Xi and Putin met for tea.",
    ])
    assert rows.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_cues_ignore_case_and_handle_no_input():
    assert topic_cues(["UKRAINE AND NATO"]).tolist() == [[1, 0, 0, 1]]
    assert topic_cues([]).shape == (0, 4) and topic_cues([]).dtype == np.float64


def test_ambiguous_names_do_not_fire_outside_their_topic():
    rows = topic_cues([
        "Both sides called for a ceasefire in the war in Gaza.",      # not the war in Ukraine
        "Analysts weigh the risk of an invasion of Taiwan.",          # taiwan, not ukraine
        "The deal strengthens China's energy security.",              # energy, not security
        "Since the war began, trade has doubled.",                   # the war in Ukraine
        "China never condemned the invasion.",
    ])
    assert rows.tolist() == [[0, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
