"""The stored state always equals the replay of the history.

A hypothesis state machine, owning its own database, drives random sequences
of what partners do — propose, accept, accept with a concern, ask for a change,
take an answer back, withdraw, retire, change while a proposal is pending,
join, leave, be removed, two writes built from the same read, review and
answer in a review, and the whole ledger exported (by a partner or the command
line) and imported again (the new export must equal the old) — by two to four
partners. After every step, ``verify`` must pass: every hash chain holds
and every stored state and waiting list equals a fresh replay.
"""

import contextlib
import json
import os
import tempfile
from datetime import timedelta
from functools import partial

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger import create_app, exportcheck, portable
from ledger.chain import verify_all
from ledger.db import db, utcnow
from ledger.models import (
    Agreement,
    Conflict,
    Invitation,
    Ledger,
    Membership,
    Removal,
    Review,
    StoredState,
    User,
)
from ledger.models.reviews import CHOICES, ReviewClosed
from ledger.schema import upgrade

from .conftest import POSTGRES_URL, reset_postgres

DECISIONS = ("accept", "concern", "change")


class Partners(RuleBasedStateMachine):
    """One ledger, up to four people, many agreements; any order of events."""

    def __init__(self):
        super().__init__()
        if POSTGRES_URL:
            reset_postgres(POSTGRES_URL)
            url = POSTGRES_URL
        else:
            self.folder = tempfile.TemporaryDirectory(prefix="ledger-machine-")
            url = f"sqlite:///{os.path.join(self.folder.name, 'ledger.sqlite3')}"
        self.app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
        self.context = self.app.app_context()
        self.context.push()
        db.database.connect(reuse_if_open=True)
        upgrade(db.database)
        self.people = [
            User.create_account(f"p{n}@example.org", f"P{n}", "pbkdf2:sha256:1$x$x", "UTC")
            for n in range(4)
        ]
        self.ledger = Ledger.start(self.people[0], "Machine", "UTC")
        self.join(self.people[1])
        self.steps = 0

    def teardown(self):
        if not db.database.is_closed():
            db.database.close()
        self.context.pop()
        if not POSTGRES_URL:
            self.folder.cleanup()

    # Helpers

    def join(self, user):
        inviter = self.partners()[0]
        invitation = Invitation.issue(self.ledger, inviter, "", timedelta(days=7))
        assert invitation.accept(user, utcnow())

    def partners(self):
        return [m.user for m in self.ledger.partners()]

    def agreements(self):
        return list(
            Agreement.select().where(Agreement.ledger == self.ledger).order_by(Agreement.id)
        )

    def stored(self, agreement):
        return StoredState.get(StoredState.agreement == agreement.id)

    def attempt(self, write):
        """Run a write; a visible Conflict is an allowed outcome."""
        try:
            return write()
        except Conflict:
            return None

    # Rules

    @rule(who=st.integers(0, 3), title=st.sampled_from(["Sunday", "Money", "Phones"]))
    def propose(self, who, title):
        partners = self.partners()
        author = partners[who % len(partners)]
        Agreement.propose_new(self.ledger, author, "general", {"title": title, "text": "x"}, "")

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50), who=st.integers(0, 3), text=st.text("ab ", max_size=6))
    def change(self, which, who, text):
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        partners = self.partners()
        author = partners[who % len(partners)]
        base = self.stored(agreement).latest_number
        content = {"title": "Changed", "text": text or "y"}
        self.attempt(lambda: agreement.append_revision(author, "propose", content, "", base))

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50), who=st.integers(0, 3), decision=st.sampled_from(DECISIONS))
    def answer(self, which, who, decision):
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        partners = self.partners()
        user = partners[who % len(partners)]
        state, _ = StoredState.of(agreement, utcnow())
        rs = state.answerable_by(user.id) or state.pending or state.current
        number, seen = rs.revision.number, rs.revision.content_hash
        self.attempt(lambda: agreement.answer(user, number, decision, "a note", seen))

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50), who=st.integers(0, 3))
    def take_back(self, which, who):
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        partners = self.partners()
        user = partners[who % len(partners)]
        number = self.stored(agreement).latest_number
        self.attempt(lambda: agreement.withdraw_answer(user, number))

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50), who=st.integers(0, 3))
    def withdraw(self, which, who):
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        partners = self.partners()
        user = partners[who % len(partners)]
        number = self.stored(agreement).latest_number
        self.attempt(lambda: agreement.withdraw_proposal(user, number))

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50), who=st.integers(0, 3))
    def retire(self, which, who):
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        partners = self.partners()
        author = partners[who % len(partners)]
        base = self.stored(agreement).latest_number
        self.attempt(lambda: agreement.propose_retiring(author, "", base))

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50), first=st.integers(0, 3), second=st.integers(0, 3))
    def two_writes_from_one_read(self, which, first, second):
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        partners = self.partners()
        base = self.stored(agreement).latest_number  # both read this
        one, two = partners[first % len(partners)], partners[second % len(partners)]
        done = self.attempt(
            lambda: agreement.append_revision(one, "propose", {"title": "A", "text": "1"}, "", base)
        )
        if done is not None:
            try:
                agreement.append_revision(two, "propose", {"title": "B", "text": "2"}, "", base)
            except Conflict:
                pass
            else:
                raise AssertionError("the second write built from the same read went through")

    @precondition(lambda self: len(self.partners()) < 4)
    @rule()
    def someone_joins(self):
        ids = {u.id for u in self.partners()}
        newcomer = next(u for u in self.people if u.id not in ids)
        self.join(newcomer)

    @precondition(lambda self: len(self.partners()) > 2)
    @rule(who=st.integers(0, 3))
    def someone_leaves(self, who):
        partners = list(self.ledger.partners())
        partners[who % len(partners)].end("left", utcnow())

    @precondition(lambda self: len(self.partners()) > 2)
    @rule(who=st.integers(0, 3))
    def someone_is_removed(self, who):
        partners = list(self.ledger.partners())
        target = partners[who % len(partners)]
        for membership in partners:
            if membership.id != target.id and Membership.get_by_id(target.id).left_at is None:
                Removal.request(target, membership.user, utcnow())

    @precondition(lambda self: self.agreements())
    @rule(which=st.integers(0, 50))
    def everyone_accepts(self, which):
        """Every partner accepts the words waiting for them: agreements come
        into force (random answers rarely agree), so there is something to review."""
        agreements = self.agreements()
        agreement = agreements[which % len(agreements)]
        for user in self.partners():
            state, _ = StoredState.of(agreement, utcnow())
            waiting = state.answerable_by(user.id)
            if waiting is not None:
                number, seen = waiting.revision.number, waiting.revision.content_hash
                self.attempt(partial(agreement.answer, user, number, "accept", "", seen))

    @precondition(lambda self: self.agreements())
    @rule(
        which=st.integers(0, 50),
        answers=st.lists(
            st.tuples(st.integers(0, 3), st.sampled_from(list(CHOICES))), min_size=1, max_size=4
        ),
    )
    def review(self, which, answers):
        """Review every agreement in force (or resume the review under way)
        and answer about one of them, as one partner or several."""
        partners = self.partners()
        starter = partners[answers[0][0] % len(partners)]
        review, _ = Review.start(self.ledger, starter, "all", utcnow())
        if review is None:
            return
        items = review.items()
        item = items[which % len(items)]
        for who, choice in answers:
            user = partners[who % len(partners)]
            with contextlib.suppress(ReviewClosed):  # answered already, settled, not asked
                item.answer(user, choice, "a note", utcnow())

    @precondition(lambda self: self.agreements())
    @rule(who=st.one_of(st.none(), st.integers(0, 3)))
    def export_and_import_again(self, who):
        """The whole ledger leaves as a file, downloaded by a partner or
        written by the command line, and comes back exactly."""
        partners = self.partners()
        exporter = partners[who % len(partners)] if who is not None else None
        first = portable.export_ledger(self.ledger, exporter)
        assert exportcheck.check(first)[0] == []
        uuid = self.ledger.uuid
        self.ledger.delete_instance()
        ledger, placeholders = portable.import_ledger(json.loads(portable.dumps(first)))
        assert placeholders == 0  # every person still has an account here
        self.ledger = Ledger.get(Ledger.uuid == uuid)
        again = portable.export_ledger(self.ledger, exporter)
        first.pop("exported_at"), again.pop("exported_at")
        assert again == first

    @invariant()
    def stored_state_equals_the_replay(self):
        checked, _, broken = verify_all()
        assert broken is None, str(broken)
        assert checked == len(self.agreements())


Partners.TestCase.settings = settings(
    max_examples=int(os.environ.get("LEDGER_MACHINE_EXAMPLES", "25")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoredStateEqualsReplay = Partners.TestCase
