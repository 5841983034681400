"""The project's one splitter: articles into labelled units (sentences) or paragraphs.

Every passage keeps character offsets into the original text, so annotated output
can point back at the source. The rules follow ``CODEBOOK.md`` ("The unit"):

* a sentence is a unit; a headline or sub-heading on its own line is a unit only
  when it forms a clause (a verb, or a verbless predicate such as "Trade: prices
  down"); bare noun-phrase headings are dropped;
* page furniture (datelines alone, bylines, credits, "Previous Post", "Leave a
  Reply", navigation) is dropped, and a dateline in front of a first sentence is
  cut off that sentence;
* a last fragment cut off mid-sentence is dropped.

The splitter is rule-based and deterministic: labels are stored against its output,
and ``training.data`` checks that every label still matches it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Passage", "split_sentences", "split_paragraphs", "split_passages", "normalize_space", "furniture_cuts"]


@dataclass(frozen=True)
class Passage:
    """A span of an article: ``text`` is the whitespace-normalised ``source[start:end]``."""

    index: int
    text: str
    start: int
    end: int


# Invisible format characters: bidirectional controls (which would render text reversed
# in a report) and the byte-order mark / zero-width no-break space. They are dropped from
# passage text and never stop sentence splitting; offsets still count them.
_INVISIBLE = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_INVISIBLE_TABLE = str.maketrans(dict.fromkeys(_INVISIBLE))


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace into one space and strip the ends.

    Bidirectional control characters and a byte-order mark are removed, so passage
    text never carries them.
    """
    return " ".join(text.translate(_INVISIBLE_TABLE).split())


# --- character classes -------------------------------------------------------------

_CLOSERS = "\"'”’»)]″"
_OPENERS = "\"'“‘«(["
_TERMINAL = ".!?…"

# Abbreviations after which a full stop does not end a sentence.
_ABBREV_NEVER = {
    "mr", "mrs", "ms", "dr", "prof", "st", "gen", "col", "lt", "sgt", "capt", "cmdr",
    "sen", "rep", "gov", "pres", "hon", "rev", "messrs", "jr", "sr", "vs", "etc",
    "inc", "corp", "co", "ltd", "plc", "dept", "est", "approx", "fig", "vol", "ed",
    "e.g", "i.e", "cf", "al", "adm", "maj", "brig",
}
# Abbreviations that do not end a sentence before a number ("No. 1", "Sept. 11").
_ABBREV_BEFORE_NUMBER = {
    "no", "nos", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "art", "p", "pp", "para", "ch",
}
# Words that typically open a sentence: after "U.S." they mark a boundary.
_SENTENCE_STARTERS = {
    "the", "a", "an", "it", "he", "she", "they", "we", "i", "this", "that", "these",
    "those", "but", "and", "in", "on", "at", "as", "if", "however", "meanwhile",
    "china", "russia", "beijing", "moscow", "putin", "xi", "his", "her", "their",
    "its", "there", "what", "when", "while", "after", "before", "both", "some",
}

_BULLET = re.compile(r"[ \t]*(?:[-•*·▪●◦–—]|\(?\d{1,2}[.)]|\(?[a-z][.)])[ \t]+(?=\S)")

# Whole lines that are page furniture.
_FURNITURE = re.compile(
    r"""^(?:
        \(?\s*(?:with\ inputs\ from\ [\w\s,.&]+|reuters|ap|afp|xinhua|tass|bloomberg|
              source:[^)]*|photo[^)]*|image[^)]*|file\ photo[^)]*)\s*\)?\.?
      | (?:associated\ press|agence\ france-presse|reuters|xinhua|sputnik|tass|ap|afp)
      | (?:photo|image|credit|photograph|picture|video|source|caption)s?\s*:.*
      | (?:share|share\ this|tweet|print|email|advertisement|subscribe.*|read\ more.*|
           related(?:\ (?:articles|posts|stories))?|click\ here.*|follow\ us.*|
           all\ rights\ reserved.*|copyright.*|©.*)
      | by\ [A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4}(?:\s*(?:,|and)\s*[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4})*
      | \([^()]*\)
      | .*\s[-–—]\s(?:copyright|photo|credit|image)\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Lines after which the rest of the page is navigation or comments.
_END_OF_ARTICLE = re.compile(
    r"""^(?:previous\ post|next\ post|leave\ a\ reply|leave\ a\ comment|related\ posts?|
        comments?|you\ may\ also\ like|more\ from\ .*|recommended(?:\ for\ you)?)\s*:?$""",
    re.IGNORECASE | re.VERBOSE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)
# Date and time stamps such as "Mar 20, 2023 / 05:11 PM IST" or "04:32 PM @ Friday - 08 December, 2023".
_STAMP_TOKEN = re.compile(
    rf"^(?:{_MONTH}\.?|\d{{1,4}}(?:st|nd|rd|th)?[.,]?|\d{{1,2}}:\d{{2}}|[ap]\.?m\.?|"
    r"[A-Z]{2,4}|updated:?|published:?|posted:?|on|at|[-/@|,.:–—])$",
    re.IGNORECASE,
)

# A dateline in front of a first sentence: "MOSCOW --- ", "SHANGHAI (Reuters) - ",
# "By Alexei Anishchuk SHANGHAI (Reuters) - ", "MOSCOW (UrduPoint News / Sputnik - 21st March, 2023) ".
_DATELINE = re.compile(
    r"""^(?:By\s+(?:[A-Z][\w.'’-]+\s+){1,4}?)?
        (?P<place>[A-Z][A-Z.'’-]{2,}(?:[ ,/]+[A-Z][A-Z.'’-]+)*)
        (?:,\s*[A-Z][a-z]+\.?(?:\s+\d{1,2})?)?
        (?:
            \s*\((?P<paren>[^()]{1,80})\)\s*(?:[-–—:]{1,3}\s*)?
          | \s*[-–—:]{1,3}\s+
        )
        (?=[\"“‘A-Z0-9])""",
    re.VERBOSE,
)
_AGENCY = re.compile(r"reuters|ap\b|afp|xinhua|sputnik|tass|bloomberg|cnn|bbc|news|\d", re.IGNORECASE)
_STORY_PREFIX = re.compile(
    r"^(?:(?:STORY|UPDATE|WATCH|EXCLUSIVE|BREAKING|ANALYSIS)\s*:|date:?\s+\d{4}-\d{2}-\d{2})\s*(?=\S)"
)

# Verbs for telling a clause heading ("Putin Pays State Visit to China") from a
# noun-phrase heading ("Russia and China in Central Asia"). Inflected forms are derived.
_VERB_LEMMAS = """
accept accuse acknowledge add admit agree aid aim align allow announce annex appear
approve argue arm arrive ask assist attack attend back ban become begin believe blame
block bolster bomb boost break bring broker build buy call capture celebrate cement
challenge charge claim clash climb clinch collaborate come commemorate commit compete
complete condemn conduct confirm confront congratulate consider continue cooperate court
criticise criticize cut deal decide decline declare deepen defend deliver demand deny
depart deploy dip discuss dismiss double drop ease echo elevate emerge end ensure enter
exceed exit expand expect expel export express extend face fail fall fight find finish
fire fly follow forge gain get give go greet grow guarantee hail halt halve help hit hold
hope host ignore impose import increase inflict insist intend invade invite issue join
jump keep kill launch lead leave lift limit look lose make mark mediate meet miss move
mull need negotiate note offer omit open oppose outline overtake participate partner pay
pivot plan play plot pledge plunge praise prepare present press promise propose protect
prove provide publish pull pump push quit raise ratify reach react reaffirm receive
recognise recognize reduce refuse reiterate reject release remain renew replace report
resist respect respond restore restrict resume return reveal rise rule run said say
seal secure see seek seize sell send set shift ship side sign slam slide slump snub soar
stage stand start stay stop strengthen stress strike succeed supply support surge
surpass suspend take talk tell test thank threaten tie tighten top trade travel triple
try turn underline unveil upgrade urge visit vow wage want warn watch welcome widen win
withdraw woo work worry sanction patrol
"""
_IRREGULAR_VERBS = """
is are was were be been being am has have had do does did will would shall should can
could may might must made met said says told took gave got went gone came began become
became brought bought built held kept led left lost paid ran rose saw seen sent set sold
spoke stood struck thought won withdrew fell flew grew hit cut sees agrees
"""


def _verb_forms() -> tuple[frozenset[str], frozenset[str]]:
    """Return (base forms, inflected forms) of the verb lexicon."""
    base, inflected = set(), set(_IRREGULAR_VERBS.split())
    for lemma in _VERB_LEMMAS.split():
        stem_e = lemma[:-1] if lemma.endswith("e") else lemma
        base.add(lemma)
        inflected.update({lemma + "s", lemma + "es", stem_e + "ed"})
        if lemma.endswith("y") and lemma[-2] not in "aeiou":
            inflected.update({lemma[:-1] + "ies", lemma[:-1] + "ied"})
        if re.search(r"[^aeiou][aeiou][bdgmnprt]$", lemma):  # stop -> stopped
            inflected.add(lemma + lemma[-1] + "ed")
    return frozenset(base), frozenset(inflected - base)


_BASE_VERBS, _INFLECTED_VERBS = _verb_forms()
# Words after which a base form is a verb ("to extend", "will meet", "bombers fly").
_BEFORE_BASE_VERB = frozenset("to will would can could should may might must not they we i you".split())
# Words after which an "-s" form is a noun ("the talks", "peace deals" are not clauses).
_BEFORE_NOUN = frozenset("the a an of in on for with at by from their his her its our your and or".split())
# Finite forms that make a gerund-led heading a clause ("Ceasing fire is the first point").
_FINITE_BE_HAVE = frozenset("is are was were has have had will would".split())
# Words in -ing that do not open a gerund phrase: place names and prepositions.
_ING_NAMES = frozenset(
    "beijing nanjing chongqing kunming xining during following according regarding concerning including".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


# --- line level --------------------------------------------------------------------

# More page furniture seen in the wider corpus: wire datelines on their own
# ("MOSCOW, July 4. /TASS/.", "MOSCOW, 4 Jul — RIA Novosti."), photo credits and
# captions, reading-time and subscription prompts, error banners, bare links.
_WIRE_DATELINE = re.compile(
    r"""^[A-Z][A-Za-z.'’ -]*[A-Z.],?\s*
        (?:\d{1,2}\s+[A-Z][a-z]{2,8}\.?|[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\.?\s*
        (?:[-–—]+\s*)?/?\s*(?:TASS|ТASS|tass|RIA\ Novosti|Interfax|Sputnik|Xinhua)\s*/?\s*\.?$""",
    re.VERBOSE,
)
_SITE_CLUTTER = re.compile(
    r"""^\|?\s*(?:
        (?:estimated\ )?read(?:ing)?\ time\b.* | tempo\ di\ lettura\b.* | \d+\s*min(?:ute)?s?\ read
      | oops!?\ .* | something\ went\ wrong.* | please\ try\ again.* | an\ error\ (?:has\ )?occurred.*
      | share\s*:.* | share\ (?:on|via)\ .* | support\ the\ moscow\ times!? | support\ (?:independent\ )?journalism.*
      | you\ can\ unsubscribe\ at\ any\ time\.? | sign\ up\ .*newsletter.* | newsletter | more\ info
      | \[?\s*continue\ reading\W*\]? | news\ in\ development\W* | login\ to\ continue.* | log\ in\ to\ continue.*
      | the\ limited\ times | now\ you\ can\ see\ non-english\ news.* | back\ to\ main\ page | more\ news
      | news\ feed | loading\W* | skip\ to\ (?:main\ )?content | listen\ to\ (?:this\ )?article.*
      | (?:https?://|www\.)\S+ | [\w\s.,’'-]{3,60}\ contributed\ (?:reporting\ )?to\ this\ (?:report|story|article)\.?
      | (?:reporting|editing|writing)\ by\ [A-Z].{0,80} | disclaimer\s*:.* | the\ views\ expressed\ .*
      | (?:published|updated|posted)(?:/copyright)?\s*:.*\d.*
      | (?:this\ (?:web)?site|we)\ uses?\ cookies.* | .*\buse\ of\ cookies\b.* | for\ more\ information\ on\ cookies.*
      | photo\ by\ .{1,80} | .{0,60}\bwritten\ by\ [A-Z][\w.'’ -]{1,40} | .{0,80}\b\d+\ (?:minutes?|hours?)\ ago\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_CREDIT_NAMES = r"(?:AP|AFP|Reuters|Xinhua|TASS|ТASS|Sputnik|RIA Novosti|Getty(?:\ Images)?|VCG|EPA|EFE|Pool|Kremlin|IANS|PTI|ANI|Bloomberg|Shutterstock)"
# A caption's credit at the end of a line: "... (AP Photo/Carlos Barria, Pool)",
# "... Source: RIA Novosti", "... Photo: EPE-EFE. Sketched by ...", "... AFP via Getty / Name".
_CAPTION_CREDIT = re.compile(
    rf"""(?:
        \((?:[^()]*\b(?:photo|image|source|credit)\b[^()]*|{_CREDIT_NAMES}(?:\s*/[^()]*)?)\)
      | \b(?:photo|image|source|credit|illustration)s?\s*:\s*\S[^.]{{0,60}}(?:\.\s*sketched\ by\ [^.]{{0,60}})?
      | \b{_CREDIT_NAMES}\s+via\s+Getty\b.*
    )\s*\.?\s*\|?$""",
    re.IGNORECASE | re.VERBOSE,
)
_CLOCK = re.compile(r"\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}|\b\d{1,2}\.\d{1,2}\.\d{4}\b")


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Narrow ``text[start:end]`` past whitespace and invisible format characters at both ends."""
    while start < end and (text[start].isspace() or text[start] in _INVISIBLE):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _INVISIBLE):
        end -= 1
    return start, end


@dataclass
class _Block:
    """A run of text between line breaks (possibly several joined lines)."""

    start: int
    end: int


def _lines(text: str) -> list[_Block]:
    blocks, pos = [], 0
    for line in text.splitlines(keepends=True):
        start, end = _trim(text, pos, pos + len(line))
        if start < end:
            blocks.append(_Block(start, end))
        pos += len(line)
    return blocks


_CONTINUATION_END = re.compile(
    r"\b(?:that|to|of|and|or|but|the|a|an|for|with|which|who|whose|in|on|at|by|from|as|"
    r"than|into|while|because|its|their|his|her|is|are|was|were|has|have)$",
    re.IGNORECASE,
)
# Only the end of a long line matters when deciding whether it ends a sentence; looking
# at a bounded tail keeps the splitter linear in the length of the text.
_TAIL = 200


def _ends_sentence(s: str) -> bool:
    """True if ``s`` ends with terminal punctuation, allowing closing quotes after it."""
    s = re.sub(r"(?<=[.!?])\d{1,2}$", "", s[-_TAIL:].rstrip()).rstrip(_CLOSERS + " ")
    return bool(s) and s[-1] in _TERMINAL


def _is_hard_wrapped(text: str, blocks: list[_Block]) -> bool:
    """True for text wrapped at a fixed width (copied from a PDF): short lines that run on.

    Text with a paragraph a line has many lines far longer than any wrap width; in
    wrapped text nearly none are, and most lines of some length end mid-sentence.
    """
    lengths = [b.end - b.start for b in blocks]
    if sum(n > 130 for n in lengths) > 0.1 * len(lengths):
        return False
    run_on = sum(50 <= b.end - b.start <= 130 and bool(re.search(r"[a-z,]$", text[b.start : b.end])) for b in blocks)
    return run_on >= 6 and run_on >= 0.3 * len(blocks)


def _join_broken_lines(text: str, blocks: list[_Block]) -> list[_Block]:
    """Join a line to the next when a sentence plainly runs on across the line break."""
    out: list[_Block] = []
    wrapped = _is_hard_wrapped(text, blocks)
    prev_line = ""
    for block in blocks:
        line = text[block.start : block.end]
        if out:
            prev = text[max(out[-1].start, out[-1].end - _TAIL) : out[-1].end]
            subheading = _ends_sentence(prev) and len(line.split()) <= 4 and not _ends_sentence(line)
            wrapped_on = wrapped and len(prev_line) >= 50 and not _ends_sentence(prev) and prev[-1:].isalpha()
            if not _BULLET.match(line) and (
                (line[0].islower() and not subheading)  # "military cooperation" after a full stop: a sub-heading
                or (not _ends_sentence(prev) and _CONTINUATION_END.search(prev))
                or (wrapped_on and line[0].isupper())
            ):
                out[-1] = _Block(out[-1].start, block.end)
                prev_line = line
                continue
        out.append(_Block(block.start, block.end))
        prev_line = line
    return out


def _is_stamp(line: str) -> bool:
    tokens = re.findall(r"\d{1,2}:\d{2}|[A-Za-z]+\.?|\d+(?:st|nd|rd|th)?|[^\w\s]", line)
    if len(line.split()) <= 12 and _CLOCK.search(line) and not (_ends_sentence(line) and len(line.split()) > 6):
        return True  # "July 04, 15:09 UTC+3", "(Xinhua) 09:59, May 10, 2015", "2024-03-30T17:32+0000"
    return bool(tokens) and any(t[0].isdigit() for t in tokens) and all(_STAMP_TOKEN.match(t) for t in tokens)


def _is_credit(line: str) -> bool:
    """A photo credit or source line on its own: "Photo: AFP", "Tao Ran/VCG/Visual China Group/TASS"."""
    words = line.split()
    if len(words) > 12:
        return False
    if re.search(r"\b(?:photo|image|source|credit|illustration)s?\s*:", line, re.IGNORECASE):
        return True
    slashes = line.count("/")
    return (slashes >= 2 or " / " in line) and len(words) <= 8 and not line.rstrip().endswith(("?", "!"))


def _is_furniture(line: str) -> bool:
    s = normalize_space(line)
    if len(s) > 300:  # furniture is short; long lines are prose (and regexes stay linear)
        return False
    words = s.split()
    return (
        bool(_FURNITURE.match(s) or _WIRE_DATELINE.match(s) or _SITE_CLUTTER.match(s))
        or _is_stamp(s)
        or _is_credit(s)
        or (re.fullmatch(r"\[[^\[\]]*\]\s*\|?", s) is not None)
        or (len(words) == 1 and s.isalpha() and s[0].isupper())
        or (len(words) <= 3 and re.fullmatch(r"[A-Z][A-Z.\s]*", s) is not None)  # "MOSCOW.", "BE RU EN"
    )


def _is_caption(line: str) -> bool:
    """A photo caption: a line that ends in a credit ("... (AP Photo/Pool)", "... Source: VK")."""
    s = normalize_space(line)
    return len(s) <= 600 and _CAPTION_CREDIT.search(s[-160:]) is not None and not _is_furniture(s)


def _has_clause(line: str) -> bool:
    """True if a heading forms a clause: a verb, or a verbless 'X: Y' predicate.

    Headlines are short and often in title case, so a word is taken as a verb only
    where its neighbour makes that likely: "China, Russia extend treaty" and "Chinese
    Banks Block Payments" are clauses, "Joe Biden's phone call" and "The meeting in
    Nanping" are not.
    """
    if len(line) > 400:  # a long run of text is prose, not a heading (and this stays linear)
        return True
    if re.search(r"\w[^:]*:\s*\S", line):
        return True
    words = [w.replace("’", "'") for w in _WORD.findall(line)]
    if words and words[0].lower().endswith("ing") and words[0].lower() not in _ING_NAMES:
        # "Ceasing hostilities", "Keeping nuclear power plants safe": a gerund phrase, not a clause
        return any(w.lower() in _FINITE_BE_HAVE for w in words[1:])
    for i, word in enumerate(words):
        w, prev = word.lower(), (words[i - 1] if i else "")
        if w in _INFLECTED_VERBS:
            if w.endswith("s") and (prev.lower() in _BEFORE_NOUN or prev.endswith("'s")):
                continue
            return True
        if w in _BASE_VERBS and i:
            plural_subject = prev.endswith("s") and not prev.endswith("'s")
            # "Russian and Chinese aircraft patrol", but not "X and Joe Biden's phone call"
            coordinated = "and" in words[:i] and not any(w.endswith("'s") for w in words[:i])
            named_subject = word[:1].islower() and (prev[:1].isupper() or coordinated)
            named_subject = named_subject or (prev[:1].isupper() and "and" in words[:i])
            if prev.lower() in _BEFORE_BASE_VERB or plural_subject or named_subject:
                return True
    return False


def _is_heading_line(line: str) -> bool:
    """A standalone line that reads as a headline: short, no closing full stop, or set in dashes."""
    s = normalize_space(line)
    if len(s) > 400:  # twenty words are never this long: a run of text, not a heading
        return False
    if re.match(r"^[-–—]\s.*\s[-–—]$", s):
        return True
    return not _ends_sentence(s) and len(s.split()) <= 20


# --- sentence level ----------------------------------------------------------------


_TOKEN_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_WORD_AFTER = re.compile(r"[\"“‘(\[]*([A-Za-z0-9]+)")


def _is_boundary(text: str, dot: int, nxt: int) -> bool:
    """Decide whether the terminal mark at ``dot`` ends a sentence, the next one starting at ``nxt``."""
    if text[dot] != ".":
        return True
    m = _TOKEN_BEFORE.search(text, max(0, dot - 64), dot)  # a bounded look-back keeps this linear
    token = m.group(1) if m else ""
    low = token.lower()
    following = _WORD_AFTER.match(text, nxt)
    next_word = following.group(1) if following else ""
    if text[dot - 1 : dot] == ".":  # an ellipsis written as dots
        return True
    if low in _ABBREV_NEVER:
        return False
    if low in _ABBREV_BEFORE_NUMBER and next_word[:1].isdigit():
        return False
    if len(token) == 1 and token.isupper():  # an initial: "Joseph V. Stalin"
        return False
    if "." in token:  # "U.S.", "U.K." : end only before a typical sentence opener
        return next_word.lower() in _SENTENCE_STARTERS
    return True


_CANDIDATE = re.compile(
    r"""(?P<mark>[.!?…]+)(?P<close>[\"'”’»)\]″]*)
        (?:(?<=[a-z][.])\d{1,2}(?=\s))?                # a footnote mark: "in Central Asia.3 In 2001"
        (?:
            (?P<space>[\s\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]+)
            (?=[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]*[\"“‘«(\[]?[A-Z0-9À-ÖØ-ÞЀ-Я])  # ". The", ". “We", ". 2023"
          | (?<=[a-z0-9]{2}[.!?])(?=[A-Z][a-z])     # "on Taiwan.The one-China principle"
        )""",
    re.VERBOSE,
)


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, cur = [], start
    for m in _CANDIDATE.finditer(text, start, end):
        mark_at = m.start("mark") + len(m.group("mark")) - 1
        nxt = m.end()
        if not _is_boundary(text, mark_at, nxt):
            continue
        stop = m.end("close")
        if text[cur:stop].strip():
            spans.append((cur, stop))
        cur = nxt
    if text[cur:end].strip():
        spans.append((cur, end))
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), s + len(text[s:e].rstrip())) for s, e in spans]


def _strip_prefix(text: str, start: int, end: int) -> int:
    """Skip a bullet marker, a "STORY:" tag or a dateline at the start of a block."""
    m = _BULLET.match(text, start, end)
    if m:
        return m.end()
    head = text[start : min(end, start + 300)]  # a prefix is short: look at the head only
    m = _STORY_PREFIX.match(head)
    if m:
        return start + m.end()
    m = _DATELINE.match(head)
    if m and (m.group("paren") is None or _AGENCY.search(m.group("paren"))):
        place = m.group("place")
        if place.replace(" ", "").isupper() and len(re.sub(r"[^A-Z]", "", place)) >= 3:
            return start + m.end()
    return start


# --- public API --------------------------------------------------------------------


_DECORATED = re.compile(r"^[-–—]\s.*\s[-–—]$")
_TRAILING_CREDIT = re.compile(
    r"\s+[-–—]\s*(?:Sputnik|Reuters|AP|AFP|Xinhua|TASS|Bloomberg|IANS|PTI|ANI)\.?$"
)


_PHOTO_CREDIT = re.compile(r"^(?:photo|image|picture)s?\s*:", re.IGNORECASE)


def _is_prose(line: str) -> bool:
    """A line of running text: a full sentence of some length, not furniture or a heading."""
    return len(line.split()) >= 8 and _ends_sentence(line) and not _is_furniture(line)


def _is_unit_furniture(unit: str) -> bool:
    """A sentence-sized piece of furniture inside a line: "MOSCOW, July 4. /TASS/.", "(Xinhua/Ju Peng)"."""
    s = normalize_space(unit)
    if _WIRE_DATELINE.match(s) or _SITE_CLUTTER.match(s):
        return True
    letters = [c for c in s if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) < 0.5 * len(letters):
        return True  # not English (a quotation left in Cyrillic or Chinese): no unit of the codebook
    if re.fullmatch(r"[(\[][^()\[\]]*[)\]]\.?", s):  # wholly in brackets: a credit or a cross-reference
        return len(s.split()) <= 6 or re.search(r"photo|image|source|credit|stories|reading|/", s, re.IGNORECASE) is not None
    return False


@dataclass(frozen=True)
class _Split:
    """The splitter's result for one text: units grouped by block, and the spans cut as furniture."""

    groups: tuple[tuple[tuple[int, int], ...], ...]
    cut: tuple[tuple[int, int], ...]


@functools.lru_cache(maxsize=8)
def _split(text: str) -> _Split:
    """Units of ``text`` grouped by the block (paragraph line) they come from.

    After an end-of-page marker ("Previous Post", "Comments", "Related posts") the
    lines are navigation or comments and are cut, but only until running prose
    resumes: a second article in the same file is still split. The cut spans are kept
    so that callers can say how much text was dropped.
    """
    grouped: list[list[tuple[int, int]]] = []
    cut: list[tuple[int, int]] = []
    cut_from: int | None = None  # start of an end-of-page run being cut
    cut_to = 0
    last_is_bullet = False
    last_group_block = -2  # index of the block the last group came from
    blocks = _join_broken_lines(text, _lines(text))
    for i, block in enumerate(blocks):
        line = normalize_space(text[block.start : block.end])
        if cut_from is None and len(line) <= 60 and _END_OF_ARTICLE.match(line):
            cut_from, cut_to = block.start, block.end
            continue
        if cut_from is not None:
            if not _is_prose(line):
                cut_to = block.end
                continue
            cut.append((cut_from, cut_to))
            cut_from = None
        if _is_furniture(line):
            above = text[blocks[i - 1].start : blocks[i - 1].end] if i else ""
            if (
                _PHOTO_CREDIT.match(line)
                and last_group_block == i - 1
                and len(grouped[-1]) <= 2
                and len(above) <= 400
                and _ends_sentence(above)
            ):
                grouped.pop()  # a short line right above a "Photo: Xinhua" credit is its caption
                last_group_block = -2
            continue
        if _is_caption(line):
            continue
        if _DECORATED.match(line):  # "– ‘Marriage of convenience’? –": a sub-heading
            if _has_clause(line.strip("-–— ")):
                grouped.append([(block.start + 2, block.end - 2)])
                last_group_block = i
            continue
        credit = _TRAILING_CREDIT.search(text, block.start, block.end)  # "... by 2024. – Sputnik"
        end = credit.start() if credit else block.end
        begin = _strip_prefix(text, block.start, end)
        is_bullet = bool(_BULLET.match(text, block.start, end))
        spans = [
            (a, b)
            for a, b in _sentence_spans(text, begin, end)
            if re.search(r"[A-Za-z]", text[a:b]) and not _is_unit_furniture(text[a:b])
        ]
        if _is_heading_line(line):  # a heading or a bullet item without a clause is not a unit
            spans = [(a, b) for a, b in spans if _has_clause(text[a:b])]
        if spans:
            grouped.append(spans)
            last_is_bullet = is_bullet
            last_group_block = i
    if cut_from is not None:
        cut.append((cut_from, cut_to))
    # A last fragment cut off mid-sentence is not a unit.
    if grouped and not last_is_bullet and sum(map(len, grouped)) > 1:
        s, e = grouped[-1][-1]
        if not _ends_sentence(text[s:e]):
            grouped[-1].pop()
            if not grouped[-1]:
                grouped.pop()
    return _Split(tuple(tuple(g) for g in grouped), tuple(cut))


def _units_by_block(text: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    return _split(text).groups


def furniture_cuts(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` cut as end-of-page furniture (after "Previous Post", "Comments", ...).

    Each span runs from the marker line to the last line before running prose resumes
    (or to the end of the text). The CLI reports their length so that no text is lost
    without a word.

    >>> furniture_cuts("Putin met Xi.\\nRelated posts\\nXi visits Moscow\\nTrade grew by a third between the two last year.")
    [(14, 44)]
    """
    return list(_split(text).cut)


def split_sentences(text: str) -> list[Passage]:
    """Split an article into sentence units with offsets; furniture and non-units are dropped.

    >>> [p.text for p in split_sentences("Putin met Xi. They signed a deal on Taiwan.The end.")]
    ['Putin met Xi.', 'They signed a deal on Taiwan.', 'The end.']
    """
    spans = [span for block in _units_by_block(text) for span in block]
    return [Passage(i, normalize_space(text[s:e]), s, e) for i, (s, e) in enumerate(spans)]


def split_paragraphs(text: str) -> list[Passage]:
    """Split an article into paragraphs: the units of one line (or run-on lines) together."""
    blocks = _units_by_block(text)
    return [
        Passage(i, normalize_space(text[b[0][0] : b[-1][1]]), b[0][0], b[-1][1]) for i, b in enumerate(blocks)
    ]


def split_passages(text: str, passage: str = "sentence") -> list[Passage]:
    """Split by ``passage`` unit: ``"sentence"`` (the labelled unit) or ``"paragraph"``."""
    if passage == "sentence":
        return split_sentences(text)
    if passage == "paragraph":
        return split_paragraphs(text)
    raise ValueError(f"passage must be 'sentence' or 'paragraph', not {passage!r}")
