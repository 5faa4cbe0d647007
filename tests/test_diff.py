"""The word diff: bounded work whatever is typed, and output that reads well."""

import random

import pytest

from ledger import diff

from .helpers import answer, post_form, propose

#: Two fields of 8,000 characters that differ in every word.
EVERYWHERE_A = "a " * 3999 + "aa"
EVERYWHERE_B = "b " * 3999 + "bb"


def marked(result):
    """Render Words as text: ~~removed~~ and [added]."""
    return "".join(
        text if op == "same" else f"~~{text}~~" if op == "del" else f"[{text}]"
        for op, text in result.segments
    )


def test_fields_that_differ_everywhere_take_the_bounded_path():
    left, right = diff.TOKENS.findall(EVERYWHERE_A), diff.TOKENS.findall(EVERYWHERE_B)
    assert len(EVERYWHERE_A) == len(EVERYWHERE_B) == 8000
    script, steps = diff.search(left, right)
    assert script is None
    assert steps <= diff.MAX_STEPS + min(len(left), len(right))

    result = diff.words(EVERYWHERE_A, EVERYWHERE_B)
    assert result.whole
    assert result.segments == [("del", EVERYWHERE_A), ("ins", EVERYWHERE_B)]


def test_texts_rewritten_throughout_are_known_without_searching():
    """Two texts with no word in common but the spaces need every word
    removed and added: far over the budget, the search takes no step."""
    left, right = diff.TOKENS.findall(EVERYWHERE_A), diff.TOKENS.findall(EVERYWHERE_B)
    assert diff.least_distance(left, right) == 2 * 4000
    assert diff.search(left, right) == (None, 0)
    # The same words in another order have no such bound: the search runs.
    shuffled = list(left)
    random.Random(7).shuffle(shuffled)
    assert diff.least_distance(left, shuffled) == 0
    script, steps = diff.search(left, shuffled)
    assert script is None and steps > diff.MAX_STEPS


@pytest.mark.parametrize("seed", range(40))
def test_the_least_distance_never_exceeds_the_distance_found(seed):
    """The bound that skips a search is a true lower bound: a search that
    would have fitted in the budget is never skipped."""
    rng = random.Random(seed)
    vocabulary = ["a", "b", "c", " ", "dd"]
    left = [rng.choice(vocabulary) for _ in range(rng.randrange(0, 40))]
    right = [rng.choice(vocabulary) for _ in range(rng.randrange(0, 40))]
    script, _ = diff.search(left, right, max_steps=10**9)
    distance = sum(op != "same" for op, _ in script)
    assert diff.least_distance(left, right) <= distance


def test_a_length_gap_beyond_the_budget_is_known_without_searching():
    """Turning 300 words into 5 takes at least 295 removals, so at least
    1 + 2 + ... + 295 steps: over the budget, the search takes none."""
    left, right = ["w"] * 300, ["w", "x", "w", "x", "w"]
    assert diff.search(left, right) == (None, 0)
    assert diff.search(right, left) == (None, 0)
    script, steps = diff.search(left, right, max_steps=300 * 301 // 2)
    assert [op for op, _ in script].count("del") == 297 and steps > 0
    assert [token for op, token in script if op != "del"] == right


def test_the_search_counts_every_step_it_takes(monkeypatch):
    """Whatever the budget, the search stops within it (plus one run of matches)."""
    calls = []
    search = diff.search

    def counting(left, right, max_steps=diff.MAX_STEPS):
        script, steps = search(left, right, max_steps)
        calls.append((script is None, steps, max_steps, min(len(left), len(right))))
        return script, steps

    monkeypatch.setattr(diff, "search", counting)
    for budget in (0, 10, 1_000, diff.MAX_STEPS):
        diff.words(EVERYWHERE_A, EVERYWHERE_B, max_steps=budget)
    assert [c[0] for c in calls] == [True] * 4
    assert all(steps <= budget + shorter + 1 for _, steps, budget, shorter in calls)


def test_a_few_changes_in_a_long_text_are_marked_word_by_word():
    words = [f"w{i}" for i in range(1300)]
    changed = list(words)
    for i in (10, 400, 401, 900, 1299):
        changed[i] = f"new{i}"
    result = diff.words(" ".join(words), " ".join(changed))
    assert not result.whole
    assert [text for op, text in result.segments if op == "del"] == [
        "w10",
        "w400 w401",
        "w900",
        "w1299",
    ]
    assert [text for op, text in result.segments if op == "ins"] == [
        "new10",
        "new400 new401",
        "new900",
        "new1299",
    ]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("We are face to face", "We go in to face", "We ~~are face~~[go in] to face"),
        (
            "Half an hour, every Sunday.",
            "13 quarters of an hour, every Sunday.",
            "~~Half~~[13 quarters of] an hour, every Sunday.",
        ),
        ("one two three four five", "one 2 three 4 five", "one ~~two~~[2] three ~~four~~[4] five"),
        # A short word between two changes goes with them.
        (
            "we talk at home daily",
            "they meet at noon weekly",
            "~~we talk at home daily~~[they meet at noon weekly]",
        ),
        ("a c", "a b c", "a [b ]c"),
        ("Call it out.", "", "~~Call it out.~~"),
        ("", "Call it out.", "[Call it out.]"),
        (20, 30, "~~20~~[30]"),
        (None, "x", "[x]"),
    ],
)
def test_a_removed_run_comes_right_before_its_replacement(before, after, expected):
    assert marked(diff.words(before, after)) == expected


def test_changes_in_two_paragraphs_stay_apart():
    result = diff.words(
        "Para one ends here.\n\nPara two starts.", "Para one finishes here.\n\nPara two begins."
    )
    assert marked(result) == "Para one ~~ends~~[finishes] here.\n\nPara two ~~starts.~~[begins.]"


def test_only_spacing_changed_is_told_apart():
    assert diff.words("a  b", "a b").spacing_only
    assert not diff.words("a b", "a c").spacing_only


def test_edit_scripts_are_shortest():
    """Myers' search finds an edit as short as the textbook LCS table does."""
    rng = random.Random(7)
    for _ in range(300):
        left = [rng.choice("abc") for _ in range(rng.randrange(12))]
        right = [rng.choice("abc") for _ in range(rng.randrange(12))]
        script, _ = diff.search(left, right)
        table = [[0] * (len(right) + 1) for _ in range(len(left) + 1)]
        for i in range(len(left) - 1, -1, -1):
            for j in range(len(right) - 1, -1, -1):
                table[i][j] = (
                    table[i + 1][j + 1] + 1
                    if left[i] == right[j]
                    else max(table[i + 1][j], table[i][j + 1])
                )
        assert sum(op == "same" for op, _ in script) == table[0][0]
        assert [t for op, t in script if op != "ins"] == left
        assert [t for op, t in script if op != "del"] == right


@pytest.mark.parametrize("budget", [0, 5, diff.MAX_STEPS])
def test_both_texts_can_be_read_back_from_the_segments(budget):
    rng = random.Random(budget)
    pieces = ["we", "talk", "at", "home", " ", "  ", "\n", "\n\n", "pause."]
    for _ in range(300):
        before = "".join(rng.choice(pieces) for _ in range(rng.randrange(15)))
        after = "".join(rng.choice(pieces) for _ in range(rng.randrange(15)))
        result = diff.words(before, after, max_steps=budget)
        assert "".join(t for op, t in result.segments if op != "ins") == before
        assert "".join(t for op, t in result.segments if op != "del") == after
        ops = [op for op, _ in result.segments]
        assert all(a != b for a, b in zip(ops, ops[1:], strict=False)), ops
        assert "ins del" not in " ".join(ops)


def test_fields_say_which_changed():
    labels = [("title", "Title"), ("text", "The agreement"), ("extra", "Extra")]
    changes = diff.fields(labels, {"title": "T", "text": "old"}, {"title": "T", "text": "new"})
    assert [(c.label, c.changed) for c in changes] == [
        ("Title", False),
        ("The agreement", True),
        ("Extra", False),
    ]
    assert changes[0].text == "T"


@pytest.fixture
def rewritten(couple):
    """An agreement in force whose 8,000-character text has a change pending
    that differs in every word."""
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, title="Every word", text=EVERYWHERE_A)
    assert answer(alex, path, 1).status_code == 302
    response = post_form(
        sam,
        f"{path}/change",
        {"title": "Every word", "text": EVERYWHERE_B, "base": "1", "action": "propose"},
    )
    assert response.status_code == 302
    return sam, alex, path


def test_the_agreement_page_shows_a_change_everywhere_whole(rewritten):
    sam, alex, path = rewritten
    for client in (sam, alex):
        response = client.get(path)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        pending = page.split('id="pending-heading"')[1]
        assert "changed throughout, so shown whole" in pending
        assert "a a a" in pending and "b b b" in pending
        # The title did not change: it is named, not marked up again.
        assert "Unchanged: Title." in pending


def test_the_diff_page_shows_a_change_everywhere_whole(rewritten):
    _, alex, path = rewritten
    response = alex.get(f"{path}/diff")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "changed throughout, so shown whole" in page
    assert '<dd dir="auto" class="whole">' in page
    # Unchanged fields are folded away, still there to read.
    assert '<details class="unchanged">' in page
    assert "<summary>Unchanged: Title</summary>" in page
    assert "<dt>Title</dt>" not in page.split('<details class="unchanged">')[0]


def test_the_diff_page_groups_a_replacement(couple):
    sam, alex, ledger_id = couple
    path = propose(sam, ledger_id, text="We are face to face on Sundays.")
    answer(alex, path, 1)
    post_form(
        sam,
        f"{path}/change",
        {
            "title": "Our Sunday check-in",
            "text": "We go in to face it on Sundays.",
            "base": "1",
            "action": "propose",
        },
    )
    page = alex.get(f"{path}/diff").get_data(as_text=True)
    hidden = '<span class="visually-hidden">'
    assert (
        f"We <del>{hidden}[removed: </span>are face{hidden}]</span></del>"
        f"<ins>{hidden}[added: </span>go in{hidden}]</span></ins> to face" in page
    )
