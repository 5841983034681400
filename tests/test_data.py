"""The label check catches every kind of error it promises to, and the real labels pass it."""

import copy

import pytest

from training.data import LABELS, check_records, load_dataset, read_jsonl, unit_id

UNITS = {"d1": ["Putin met Xi.", "They signed a gas deal."], "d2": ["Trade grew."]}


def good():
    return [
        {"id": unit_id("d1", "Putin met Xi."), "doc_id": "d1", "sent_idx": 0, "text": "Putin met Xi.",
         "topics": [], "stance": "neutral"},
        {"id": unit_id("d1", "They signed a gas deal."), "doc_id": "d1", "sent_idx": 1,
         "text": "They signed a gas deal.", "topics": ["energy"], "stance": "cooperative"},
        {"id": unit_id("d2", "Trade grew."), "doc_id": "d2", "sent_idx": 0, "text": "Trade grew.",
         "topics": [], "stance": "cooperative"},
    ]


def broken(**change):
    recs = copy.deepcopy(good())
    recs[1].update(change)
    return recs


def test_valid_records_pass():
    assert check_records(good(), UNITS) == []


@pytest.mark.parametrize(
    "records, message",
    [
        (broken(topics=["trade"]), "unknown topic"),
        (broken(stance="hostile"), "unknown stance"),
        (broken(topics=["ukraine", "energy"]), "out of order"),
        (broken(text="They signed a deal."), "differs from the splitter"),
        (good()[:2], "not labelled"),
        (good() + [dict(good()[2], id="x")], "labelled twice"),
        (broken(sent_idx=7), "out of range"),
        (broken(doc_id="zz"), "unknown article"),
    ],
)
def test_check_catches(records, message):
    problems = check_records(records, UNITS)
    assert any(message in p for p in problems), problems


def test_check_catches_same_text_with_conflicting_labels():
    units = {"d1": ["Trade grew."], "d2": ["Trade grew."]}
    recs = [
        {"id": "a", "doc_id": "d1", "sent_idx": 0, "text": "Trade grew.", "topics": [], "stance": "cooperative"},
        {"id": "b", "doc_id": "d2", "sent_idx": 0, "text": "Trade grew.", "topics": [], "stance": "neutral"},
    ]
    assert any("conflicting labels" in p for p in check_records(recs, units))


def test_to_dataset_columns(tiny_dataset):
    ds = tiny_dataset
    assert set(ds.column_names) >= {"text", "topics", "stance", "doc_id"}
    assert ds.features["stance"].names == ["cooperative", "friction", "neutral"]
    assert all(len(t) == 4 for t in ds["topics"])


def test_the_shipped_labels_are_valid_and_cover_the_corpus():
    ds = load_dataset(LABELS)  # raises with every problem listed if the check fails
    from training.data import corpus_units, read_non_units

    non_units = read_non_units(LABELS)
    # every unit once: labelled, or listed as no unit under the codebook
    assert len(ds) + len(non_units) == sum(len(u) for u in corpus_units().values())
    assert not {r["id"] for r in non_units} & set(ds["id"])
    assert len(set(ds["doc_id"])) == 475 and len(ds) >= 4500
    assert len(set(ds["id"])) == len(ds)


def test_a_non_unit_that_is_also_labelled_or_does_not_match_fails_the_check():
    from training.data import check_records

    units = {"d1": ["Putin met Xi.", "Photo: AFP caption here"]}
    label = {"id": "d1-x", "doc_id": "d1", "sent_idx": 0, "text": "Putin met Xi.", "topics": [], "stance": "neutral"}
    non_unit = {"id": "d1-y", "doc_id": "d1", "sent_idx": 1, "text": "Photo: AFP caption here", "why": "a caption"}
    assert check_records([label], units, non_units=[non_unit]) == []
    assert any("not labelled" in p for p in check_records([label], units, non_units=[]))
    both = dict(label, id="d1-z", sent_idx=1, text="Photo: AFP caption here")
    assert any("non-unit" in p for p in check_records([label, both], units, non_units=[non_unit]))
    wrong = dict(non_unit, text="Something else")
    assert any("differs" in p for p in check_records([label], units, non_units=[wrong]))
    assert any("reason" in p for p in check_records([label], units, non_units=[dict(non_unit, why="")]))


def test_read_jsonl_names_a_malformed_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(ValueError, match=":2:"):
        read_jsonl(p)


def test_cohen_kappa_known_values():
    from training.agreement import cohen_kappa

    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == 1.0
    # po = 8/10 agreements, pe = 0.5*0.5 + 0.5*0.5 = 0.5 -> kappa (0.8 - 0.5) / 0.5 = 0.6
    a = [1] * 5 + [0] * 5
    b = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    assert cohen_kappa(a, b) == pytest.approx(0.6)
    # agreement no better than chance gives 0
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.0)


def test_unit_ids_stay_unique_for_a_repeated_sentence():
    assert unit_id("a026", "Same.") != unit_id("a026", "Same.", occurrence=2)
    assert unit_id("a026", "Same.") == unit_id("a026", "Same.", occurrence=1)
