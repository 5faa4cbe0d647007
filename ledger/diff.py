"""Word-level differences between two texts, for <ins> and <del>.

The work is bounded by design. Splitting into words and trimming what both
texts share at their start and end are linear, and so is counting the words
of what is left in the middle: when those counts alone show more changes than
the search could find within its budget, it does not start. Otherwise the
middle is compared with Myers' O(ND) search, which stops once it has taken
``MAX_STEPS`` steps (plus at most one run of matching words, so never more
than ``MAX_STEPS`` + the number of words in the shorter text). When the
search stops, the differing middle is shown whole, struck out and then added
(``whole`` is True). Everything after the search is linear in the number of
words. A field holds at most a few thousand words, so one field costs at most
a few tens of milliseconds, whatever was typed into it.
"""

import re
from collections import Counter
from typing import NamedTuple

#: A word (anything but spaces) or the spaces between words.
TOKENS = re.compile(r"\s+|\S+")

#: The most steps the word-by-word search may take for one field. Enough for
#: about a hundred separate edits in the middle of a long text; beyond that a
#: word-by-word view would not be readable anyway.
MAX_STEPS = 20_000


class Words(NamedTuple):
    """How one text turns into another."""

    #: [(op, text)], op "same", "del" or "ins"; a removed run comes right
    #: before what replaced it.
    segments: list
    #: True when there were too many changes to mark word by word.
    whole: bool = False

    @property
    def spacing_only(self):
        """True when only spaces or line breaks changed."""
        return all(op == "same" or not text.strip() for op, text in self.segments)


class FieldChange(NamedTuple):
    """One field of an agreement, compared between two revisions."""

    label: str
    changed: bool
    words: Words
    #: The field's text in the newer revision.
    text: str


def search(left, right, max_steps=MAX_STEPS):
    """Return (edit script, steps taken) turning ``left`` into ``right``.

    The script is [(op, token)] with op "same", "del" or "ins", or None when
    the search would need more than ``max_steps`` steps (Myers, 1986).
    """
    n, m = len(left), len(right)
    # Reaching distance d takes at least 1 + 2 + ... + d steps: when the
    # least distance possible already needs more than the budget, the search
    # would stop anyway, so it does not start (texts rewritten throughout).
    least = least_distance(left, right)
    if least * (least + 1) // 2 > max_steps:
        return None, 0
    steps = 0
    # furthest[middle + k]: the furthest x reached on diagonal k = x - y.
    # Within one distance d only every other diagonal is written, so the
    # neighbours read are still those of d - 1 (Myers' single array).
    middle = n + m + 1
    furthest = [0] * (2 * middle + 1)
    trace = []
    for d in range(n + m + 1):
        for k in range(-d, d + 1, 2):
            i = middle + k
            # One step down (an insertion) or one step right (a deletion).
            if k == -d or (k != d and furthest[i - 1] < furthest[i + 1]):
                x = furthest[i + 1]
            else:
                x = furthest[i - 1] + 1
            y = x - k
            run_from = x
            while x < n and y < m and left[x] == right[y]:
                x += 1
                y += 1
            steps += 1 + x - run_from  # this step and its run of matching words
            furthest[i] = x
            if x >= n and y >= m:
                trace.append(furthest[middle - d : middle + d + 1])
                return _backtrack(trace, left, right), steps
            if steps > max_steps:
                return None, steps
        trace.append(furthest[middle - d : middle + d + 1])
    raise AssertionError("unreachable: d = n + m always ends the search")


def least_distance(left, right):
    """A lower bound of the words to remove and add to turn ``left`` into
    ``right``, in linear time: each copy of a word that one side has more
    of than the other is removed or added at least once."""
    have, want = Counter(left), Counter(right)
    return sum(abs(count - want.get(word, 0)) for word, count in have.items()) + sum(
        count for word, count in want.items() if word not in have
    )


def _backtrack(trace, left, right):
    """Walk the search's trace back from the end into an edit script.
    ``trace[d][d + k]`` is the furthest x on diagonal k after distance d."""
    x, y = len(left), len(right)
    script = []
    for d in range(len(trace) - 1, 0, -1):
        before, shift = trace[d - 1], d - 1
        k = x - y
        came_down = k == -d or (k != d and before[shift + k - 1] < before[shift + k + 1])
        prev_k = k + 1 if came_down else k - 1
        prev_x = before[shift + prev_k]
        prev_y = prev_x - prev_k
        while x > prev_x and y > prev_y:
            x, y = x - 1, y - 1
            script.append(("same", left[x]))
        if x == prev_x:
            script.append(("ins", right[prev_y]))
        else:
            script.append(("del", left[prev_x]))
        x, y = prev_x, prev_y
    script.extend(("same", left[i]) for i in range(x - 1, -1, -1))
    script.reverse()
    return script


def _shared_ends(left, right):
    """How many tokens both lists share at their start, and then at their end."""
    limit = min(len(left), len(right))
    start = 0
    while start < limit and left[start] == right[start]:
        start += 1
    end = 0
    while end < limit - start and left[-1 - end] == right[-1 - end]:
        end += 1
    return start, end


def _chunks(script):
    """Group an edit script into ["same" text] and [removed, added] runs."""
    chunks = []
    for op, token in script:
        if op == "same":
            if chunks and chunks[-1][0] == "same":
                chunks[-1][1].append(token)
            else:
                chunks.append(("same", [token]))
        else:
            if not chunks or chunks[-1][0] != "change":
                chunks.append(("change", [], []))
            chunks[-1][1 if op == "del" else 2].append(token)
    return chunks


def _size(chunk):
    """The length of a change's longer side, in characters."""
    return max(sum(map(len, chunk[1])), sum(map(len, chunk[2])))


def _absorbable(same, before, after):
    """True when an unchanged run between two changes reads better inside them.

    Spaces always; a word when it is no longer than the changes on either
    side (so "are face" and "go in" read as one replacement, not as
    "are" for "go", a space, "face" for "in"). Never a line break: changes
    in two paragraphs stay apart.
    """
    text = "".join(same[1])
    if "\n" in text:
        return False
    return not text.strip() or len(text) <= min(_size(before), _size(after))


def _grouped(chunks):
    """Merge changes separated only by spaces or a short word (linear)."""
    out = []
    for chunk in chunks:
        out.append(chunk)
        # A merge makes the change bigger, which may let it swallow the
        # unchanged run before it: keep folding back while that holds.
        while (
            len(out) >= 3
            and out[-1][0] == "change"
            and out[-2][0] == "same"
            and out[-3][0] == "change"
            and _absorbable(out[-2], out[-3], out[-1])
        ):
            after, same, before = out.pop(), out.pop(), out.pop()
            out.append(("change", before[1] + same[1] + after[1], before[2] + same[1] + after[2]))
    return out


def _segments(chunks):
    """Turn chunks into (op, text) segments, spaces shared by both sides kept plain."""
    segments = []

    def same(tokens):
        if not tokens:
            return
        if segments and segments[-1][0] == "same":
            segments[-1] = ("same", segments[-1][1] + "".join(tokens))
        else:
            segments.append(("same", "".join(tokens)))

    for chunk in chunks:
        if chunk[0] == "same":
            same(chunk[1])
            continue
        removed, added = chunk[1], chunk[2]
        start, end = _shared_ends(removed, added)
        same(removed[:start])
        middle_removed = removed[start : len(removed) - end]
        middle_added = added[start : len(added) - end]
        if middle_removed:
            segments.append(("del", "".join(middle_removed)))
        if middle_added:
            segments.append(("ins", "".join(middle_added)))
        same(removed[len(removed) - end :])
    return segments


def words(a, b, max_steps=MAX_STEPS):
    """Return the Words turning text ``a`` into text ``b``.

    Works on words and the spaces between them, so a change reads as whole
    words struck out, then the words that replace them.
    """
    left = TOKENS.findall("" if a is None else str(a))
    right = TOKENS.findall("" if b is None else str(b))
    start, end = _shared_ends(left, right)
    middle_left = left[start : len(left) - end]
    middle_right = right[start : len(right) - end]
    script, _ = search(middle_left, middle_right, max_steps)
    whole = script is None
    if whole:  # the middle is one change, struck out whole and then added
        middle = [("change", middle_left, middle_right)] if middle_left or middle_right else []
    else:
        middle = _chunks(script)
    before = [("same", left[:start])] if start else []
    after = [("same", left[len(left) - end :])] if end else []
    return Words(_segments(_grouped(before + middle + after)), whole)


def fields(labels, old, new):
    """Compare two contents field by field: [FieldChange], in the labels' order."""
    result = []
    for name, label in labels:
        before, after = (old or {}).get(name, ""), (new or {}).get(name, "")
        result.append(
            FieldChange(
                label=label,
                changed=before != after,
                words=words(before, after),
                text="" if after is None else str(after),
            )
        )
    return result
