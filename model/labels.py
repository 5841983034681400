"""The label schema: the one place where label names and their order live.

Everything else (data loading, heads, reports, checks) imports these names, so a
new label is added here and nowhere else.
"""

from __future__ import annotations

TOPICS: tuple[str, ...] = ("security", "energy", "taiwan", "ukraine")
"""Topic labels, in the canonical order the codebook prescribes for records."""

STANCES: tuple[str, ...] = ("cooperative", "friction", "neutral")
"""Stance labels; exactly one applies to every unit."""

STANCE_INDEX = {name: i for i, name in enumerate(STANCES)}


def order_topics(topics) -> list[str]:
    """Return ``topics`` de-duplicated in canonical order; reject unknown names."""
    unknown = sorted(set(topics) - set(TOPICS))
    if unknown:
        raise ValueError(f"unknown topic label(s): {', '.join(unknown)}; expected some of {list(TOPICS)}")
    return [t for t in TOPICS if t in set(topics)]


def topics_to_multi_hot(topics) -> list[int]:
    """Encode a list of topic names as a 0/1 vector in ``TOPICS`` order."""
    chosen = set(order_topics(topics))
    return [int(t in chosen) for t in TOPICS]


def stance_to_id(stance: str) -> int:
    """Map a stance name to its index in ``STANCES``."""
    if stance not in STANCE_INDEX:
        raise ValueError(f"unknown stance label: {stance!r}; expected one of {list(STANCES)}")
    return STANCE_INDEX[stance]
