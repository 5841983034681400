"""Property test: whatever an input file holds, ``entente score`` never prints a traceback.

Hypothesis writes arbitrary bytes, arbitrary Unicode (as UTF-8, UTF-8 with a byte-order
mark, UTF-16) and news-like text salted with page furniture, CRLF, bidirectional
controls, NUL, formula and markup characters; ``main()`` runs in-process on the tiny
checkpoint. Every run must end with exit status 0 or 1 and only ``entente:`` lines on
standard error, and when it succeeds every passage's offsets must slice its text out of
the decoded file.
"""

import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.cli import decode, main
from model.text import normalize_space

PIECES = [
    "Russia and China signed a gas deal on Monday.", "Their navies held joint drills.", "Previous Post",
    "Comments", "Related posts", "Leave a Reply", "MOSCOW ---", "Photo: Xinhua", "\n", "\r\n", "\r", "\n\n",
    " ", "\t", "\u202e", "\u200f", "\u2066", "\ufeff", "\u00a0", "\u2028", "\x00", "=SUM(A1)", "+1", "-2", "@x",
    "<script>alert(1)</script>", "&amp;", "\"", ",", "U.S.", "Mr.", "...", "?", "!", "\u2026", "Путин",
    "中国", "\U0001F600", "e\u0301", "Taiwan is part of China, Moscow said.",
]
ARTICLES = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=25).map("".join)
CONTENTS = st.one_of(
    st.binary(max_size=400),
    ARTICLES.map(lambda t: t.encode("utf-8", "surrogatepass")),
    ARTICLES.map(lambda t: t.encode("utf-8-sig", "surrogatepass")),
    ARTICLES.map(lambda t: t.encode("utf-16", "surrogatepass")),
    st.tuples(ARTICLES, st.binary(max_size=8)).map(lambda p: p[0].encode("utf-8", "surrogatepass") + p[1]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=CONTENTS, fmt=st.sampled_from(["jsonl", "csv", "html"]), passage=st.sampled_from(["sentence", "paragraph"]))
def test_the_command_line_never_prints_a_traceback(tiny_checkpoint, content, fmt, passage):
    with tempfile.TemporaryDirectory() as tmp:
        article, out = Path(tmp) / "article.txt", Path(tmp) / f"out.{fmt}"
        article.write_bytes(content)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["score", str(article), "--checkpoint", str(tiny_checkpoint), "-o", str(out),
                         "--passage", passage])
        lines = err.getvalue().splitlines()
        assert code in (0, 1), lines
        assert all(line.startswith("entente: ") for line in lines), lines
        if code == 1:
            assert not out.exists() and any(line.startswith("entente: error: ") for line in lines)
            return
        assert [p.name for p in Path(tmp).iterdir() if p.name.startswith(".")] == []
        if fmt == "jsonl":
            text = decode(content, "article.txt", warn=lambda _: None)
            for line in out.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                assert rec["text"] and rec["text"] == normalize_space(text[rec["start"] : rec["end"]])
        elif fmt == "csv":
            rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
            assert all(not r["text"].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows)
        else:
            page = out.read_text(encoding="utf-8")
            assert "<script>" not in page and "\u202e" not in page
