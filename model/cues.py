"""Keyword cues for the four topics, taken from the codebook's table of cues.

The codebook tags a topic when "the sentence itself refers to it, explicitly or by an
unambiguous name". Names such as Taiwan, Crimea, Gazprom or NATO are such cues, and
they carry over to new articles better than anything learned from 88 of them. The
classifier therefore uses them as one more input to its topic calibration (see
``EntenteClassifier.calibrate``); the keyword baseline uses them alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .labels import TOPICS

TOPIC_CUES = {
    "security": r"militar|defen[cs]e|army|armed forces|troops?|navy|naval|drills?|exercises?|patrols?|weapons?|arms\b|"
    r"missiles?|nuclear (?:forces|weapons|arsenal)|drones?|nato|aukus|quad\b|alliance|bloc|(?<!energy )(?<!food )security|"
    r"bombers?|"
    r"warships?|border dispute|colou?r revolution",
    "energy": r"\bgas\b|\boil\b|pipeline|lng|energy|coal|electricity|crude|gazprom|rosneft|cnpc|power of siberia|"
    r"barrels?|cubic met|nuclear power|petroleum",
    "taiwan": r"taiwan|one-china|one china|cross-strait|taipei|reunification",
    "ukraine": r"ukrain|crimea|donbas|kyiv|kiev|zelensk|special military operation|invasion\b(?!\s+of\s+taiwan)|"
    r"the war\b(?!\s+(?:in|on|over|against)\s+(?:the\s+)?(?:gaza|israel|middle east|syria|iraq|afghanistan|"
    r"terror|yemen|lebanon|taiwan))",
}
# "the war" and "the invasion" name the war in Ukraine in this corpus (2014-2024), but not
# in "the war in Gaza" or "an invasion of Taiwan": those are excluded so the cue stays an
# unambiguous name in newer articles too. Likewise "energy security" and "food security"
# are not the security order.

_COMPILED = [re.compile(TOPIC_CUES[t], re.I) for t in TOPICS]


def topic_cues(texts: Sequence[str]) -> np.ndarray:
    """``[n, 4]`` array: 1.0 where a passage contains a cue of that topic, else 0.0."""
    return np.array([[1.0 if rx.search(t) else 0.0 for rx in _COMPILED] for t in texts],
                    dtype=np.float64).reshape(len(texts), len(TOPICS))
