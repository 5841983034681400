"""The splitter on page clutter of the wider corpus, odd characters and pathological input.

Property tests (hypothesis) check that for any Unicode text the splitter never raises and
that every passage's offsets slice exactly its text.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.text import furniture_cuts, normalize_space, split_paragraphs, split_sentences


def texts(article: str) -> list[str]:
    return [p.text for p in split_sentences(article)]


def test_wire_datelines_alone_or_in_front_are_not_units():
    article = "MOSCOW, July 4. /TASS/. Putin awarded Xi the order of St. Andrew.\n\nMOSCOW, 4 Jul — RIA Novosti.\n\nXi thanked him."
    assert texts(article) == ["Putin awarded Xi the order of St. Andrew.", "Xi thanked him."]


def test_photo_captions_and_credits_are_dropped():
    article = (
        "Xi and Putin met in Beijing on Friday.\n\n"
        "Xi Jinping shakes hands with Vladimir Putin in Moscow, May 9, 2015. (Xinhua/Ju Peng)\n\n"
        "Chemical defence exercises during the joint drills. Source: RIA Novosti\n\n"
        "Sergey Lavrov Photo: AFP\n\n"
        "Tao Ran/VCG/Visual China Group/TASS\n\n"
        "They signed fifteen agreements.\n\n"
        "The two leaders walk in the Kremlin garden.\n"
        "Photo: Xinhua\n\n"
        "Trade grew by a third. (Photo by AFP)\n"
    )
    assert texts(article) == ["Xi and Putin met in Beijing on Friday.", "They signed fifteen agreements."]


def test_time_stamps_and_site_clutter_are_dropped():
    article = (
        "July 04, 15:09 UTC+3\n2024-03-30T17:32+0000\n(Xinhua) 09:59, May 10, 2015\n"
        "Reading Time: < 1 minute\nOops! Something went wrong.\nOops! Something went wrong.\n"
        "https://p.dw.com/p/4NjHE\nSupport The Moscow Times!\nYou can unsubscribe at any time.\n"
        "This website uses cookies to help us provide you with better content.\n"
        "Russia and China held talks on energy.\n[Continue reading…]\n"
        "Phelim Kine contributed to this report.\n"
    )
    assert texts(article) == ["Russia and China held talks on energy."]


def test_non_english_quotation_is_not_a_unit():
    assert texts("Xi met Putin. Генассамблея ухвалила резолюцію про співпрацю. They agreed.") == [
        "Xi met Putin.",
        "They agreed.",
    ]


def test_hard_wrapped_text_is_joined_into_sentences():
    article = "\n".join(
        [
            "Central Asian states are usually considered as passive elements rather than active agents",
            "of integration in Greater Eurasia, as many studies of the region have argued in Greater",
            "Eurasia. This article considers the role of these states as active agents of regional change,",
            "balancing relations with the key great powers such as Russia, the United States and",
            "China. Political and military integration with Russia within the CSTO is key for them and",
            "for their neighbours across the region, as it has been for decades since independence and",
            "Moscow remains the main security partner of the region while Beijing is the main lender of",
            "Central Asia.",
        ]
    )
    units = texts(article)
    assert units[0].endswith("as many studies of the region have argued in Greater Eurasia.")
    assert units[-1].endswith("while Beijing is the main lender of Central Asia.")
    assert len(units) == 3


def test_prose_after_end_of_page_furniture_is_kept_and_the_cut_is_reported():
    first = "Putin met Xi in Beijing on Friday."
    nav = "Previous Post\nXi visits Moscow\nRussia, China hold drills\n"
    second = "Russia and China signed a new gas contract worth billions of dollars on Monday."
    article = f"{first}\n{nav}{second}\n"
    assert texts(article) == [first, second]
    cuts = furniture_cuts(article)
    assert len(cuts) == 1
    start, end = cuts[0]
    assert article[start:end] == nav.rstrip("\n")


def test_a_page_that_ends_in_furniture_reports_the_cut_to_its_end():
    article = "Putin met Xi.\nComments\nGreat\nNice one\n"
    assert texts(article) == ["Putin met Xi."]
    assert furniture_cuts(article) == [(14, len(article.rstrip("\n")))]


def test_bidi_controls_do_not_stop_splitting_and_never_reach_the_text():
    article = "Putin met Xi.\u202e They signed a deal.\u200fThe end came.\u202c"
    units = split_sentences(article)
    assert [p.text for p in units] == ["Putin met Xi.", "They signed a deal.", "The end came."]
    for p in units:
        assert not any(c in p.text for c in "\u202e\u200f\u202c")
        assert normalize_space(article[p.start : p.end]) == p.text


def test_crlf_and_a_byte_order_mark_keep_offsets_into_the_decoded_text():
    article = "\ufeffPutin met Xi in Beijing.\r\nThey signed fifteen agreements.\r\n\r\nTrade grew.\r\n"
    units = split_sentences(article)
    assert [p.text for p in units] == ["Putin met Xi in Beijing.", "They signed fifteen agreements.", "Trade grew."]
    assert units[0].start == 1 and article[units[1].start : units[1].end] == "They signed fifteen agreements."


def test_one_huge_line_without_punctuation_is_one_passage():
    # Regression: a heading check on a 200 KB line used to be quadratic.
    article = "word " * 40_000
    assert len(split_sentences(article)) == 1


_PIECE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(list(".!?…\"'“”()[]:-–—|/\n\r\t \u202e\u200f\ufeff\u2028\x85")),
    st.sampled_from(["Mr. ", "U.S. ", "Previous Post\n", "Photo: AFP\n", "MOSCOW, July 4. /TASS/. ", "Putin met Xi. "]),
)
_TEXT = st.lists(_PIECE, max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_any_text_splits_and_offsets_slice_exactly_the_passage(article):
    for split in (split_sentences, split_paragraphs):
        passages = split(article)
        assert [p.index for p in passages] == list(range(len(passages)))
        for p in passages:
            assert p.text and normalize_space(article[p.start : p.end]) == p.text
    for start, end in furniture_cuts(article):
        assert 0 <= start < end <= len(article)
