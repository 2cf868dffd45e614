"""Hypothesis strategies for texts and the ops that fit them (code points, not glyphs).

The texts mix ASCII with astral-plane emoji, combining marks (alone too) and a
zero-width-joiner sequence: each code point counts once however it renders.
"""

from __future__ import annotations

from hypothesis import strategies as st

from domain.text_ot import Op

CHARACTERS = st.sampled_from(
    ["a", "b", " ", "\n", "é", "e\u0301", "\u0301", "😭", "👻", "👩\u200d💻", "漢"]
)
TEXTS = st.lists(CHARACTERS, max_size=12).map("".join)
INSERTS = st.lists(CHARACTERS, min_size=1, max_size=4).map("".join)


@st.composite
def ops_for(draw: st.DrawFn, text: str) -> Op:
    """An op that fits ``text``, not always normalised (adjacent components of one kind,
    a trailing retain)."""
    actions = draw(
        st.lists(
            st.tuples(st.sampled_from(["retain", "insert", "delete"]), st.integers(1, 6), INSERTS),
            max_size=8,
        )
    )
    op: Op = []
    remaining = len(text)
    for kind, count, inserted in actions:
        if kind == "insert":
            op.append(inserted)
        elif remaining:
            count = min(count, remaining)
            op.append(count if kind == "retain" else {"d": count})
            remaining -= count
    return op
