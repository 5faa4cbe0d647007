"""Word-level differences between two texts, for <ins> and <del>."""

import re
from difflib import SequenceMatcher

TOKENS = re.compile(r"\s+|[^\s]+")


def words(a, b):
    """Return [(op, text)] turning ``a`` into ``b``; op is "same", "del" or "ins".

    Works on words and the spaces between them, so a change reads as whole
    words struck out and added.
    """
    left, right = TOKENS.findall(str(a or "")), TOKENS.findall(str(b or ""))
    segments = []
    matcher = SequenceMatcher(a=left, b=right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("same", "".join(left[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("del", "".join(left[i1:i2])))
        if j2 > j1:
            segments.append(("ins", "".join(right[j1:j2])))
    return segments


def fields(labels, old, new):
    """Diff two contents field by field: [(label, changed, segments)]."""
    result = []
    for name, label in labels:
        before, after = (old or {}).get(name, ""), (new or {}).get(name, "")
        result.append((label, before != after, words(before, after)))
    return result
