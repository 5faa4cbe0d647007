"""What an agreement's history means: which revision is in force, what is
pending, who is still asked. Pure functions over rows already loaded.

Rules:
- A revision needs an answer from every partner who belonged to the ledger
  when it was proposed and still does (a partner who leaves is no longer
  waited for). If that is fewer than two people, every current partner is
  asked, so a proposal made while waiting for a partner can be accepted by the
  partner who joins. Nothing comes into force with fewer than two.
- It comes into force at the first moment when all of them have accepted it
  (or accepted with a concern). Asking for a change blocks.
- Only the newest revision can be answered; a newer one supersedes a pending
  one. Once in force, a revision stays in force until a later one comes into
  force (a change, or a retirement).
"""

from dataclasses import dataclass, field

from .cadence import next_review

ACCEPTING = ("accept", "concern")


@dataclass
class RevisionState:
    revision: object
    #: "in force", "was in force", "pending", "superseded", "withdrawn", "retired"
    status: str = "pending"
    in_force_at: object = None
    required: list = field(default_factory=list)  # user ids
    answers: dict = field(default_factory=dict)  # user id -> effective Consent
    withdrawn_at: object = None

    @property
    def waiting(self):
        """User ids still asked to answer."""
        return [u for u in self.required if u not in self.answers]

    @property
    def change_requested(self):
        return [c for c in self.answers.values() if c.decision == "change"]

    @property
    def accepted(self):
        """Effective acceptances, in the order they were given."""
        return sorted(
            (c for c in self.answers.values() if c.decision in ACCEPTING),
            key=lambda c: c.created_at,
        )

    @property
    def everyone_answered(self):
        return not self.waiting


@dataclass
class AgreementState:
    revisions: list  # RevisionState, oldest first
    in_force: RevisionState = None
    pending: RevisionState = None
    retired: RevisionState = None
    #: When a review last kept the revision in force (every partner: "keep").
    reaffirmed_at: object = None
    #: The date it is next revisited (stored; pages read it from there).
    next_review: object = None

    @property
    def label(self):
        if self.retired:
            return "retired"
        if self.in_force and self.pending:
            return "in force, change pending"
        if self.in_force:
            return "in force"
        if self.pending:
            return "proposed"
        return "withdrawn"

    @property
    def latest(self):
        return self.revisions[-1]

    @property
    def current(self):
        """The revision to show first: in force, else the pending proposal."""
        return self.in_force or self.pending or self.latest

    @property
    def in_force_now(self):
        """The revision in force, unless the agreement was retired."""
        return None if self.retired else self.in_force

    # The rules about who may do what. The write methods check them again
    # under the agreement's lock; templates ask them instead of re-deriving.

    @property
    def retirable(self):
        """True when retiring it may be proposed: something is in force and
        no retirement is proposed already (``propose_retiring`` checks again)."""
        return bool(
            self.in_force_now and not (self.pending and self.pending.revision.action == "retire")
        )

    def waits_for(self, user_id):
        """True when it is this partner's turn: a proposal asks them, a partner
        asked them for a change to their proposal, or they have not accepted
        what is in force (they joined later)."""
        if self.pending and self.pending.revision.author_id == user_id:
            return bool(self.pending.change_requested)
        if self.pending and user_id in self.pending.waiting:
            return True
        return bool(
            self.in_force
            and not self.retired
            and not self.pending
            and user_id not in self.in_force.answers
        )

    def answerable_by(self, user_id):
        """The revision this partner may answer now, or None.

        A partner answers once; to change it, they take it back first (until
        everyone has answered). A partner who joined later may accept what is
        in force.
        """
        rs = self.pending
        if rs is not None:
            if (
                rs.revision.author_id != user_id
                and user_id in rs.required
                and user_id not in rs.answers
            ):
                return rs
            return None
        if self.in_force and not self.retired and user_id not in self.in_force.answers:
            return self.in_force
        return None

    def answer_withdrawable_by(self, user_id):
        """The pending revision whose answer this partner may take back, or None."""
        rs = self.pending
        if rs and rs.revision.author_id != user_id and user_id in rs.answers:
            return rs if not rs.everyone_answered else None
        return None

    def stored(self, partner_ids):
        """This state as it is stored: (column values, ids of the partners it
        waits for). Revisions are named by row id."""
        values = {
            "label": self.label,
            "current": self.current.revision.id,
            "latest_number": self.latest.revision.number,
            "in_force": self.in_force.revision.id if self.in_force else None,
            "in_force_since": self.in_force.in_force_at if self.in_force else None,
            "pending": self.pending.revision.id if self.pending else None,
            "change_requested": bool(self.pending and self.pending.change_requested),
            "retired_at": self.retired.in_force_at if self.retired else None,
        }
        return values, sorted(u for u in partner_ids if self.waits_for(u))

    @property
    def reviewed_at(self):
        """When what is in force was last settled: it came into force, or a
        review reaffirmed it. The next review counts from here."""
        if self.in_force_now is None:
            return None
        return self.reaffirmed_at or self.in_force.in_force_at

    def review_stored(self, zone_name):
        """The stored review columns: when it was last settled and the date
        it is next revisited (in the ledger's zone), or None for both when
        nothing is in force. A trial's end counts until a review settles it."""
        since = self.reviewed_at
        if since is None:
            return {"reviewed_at": None, "next_review": None}
        content = self.in_force.revision.fields
        due = next_review(content, since, zone_name, trial_open=self.reaffirmed_at is None)
        return {"reviewed_at": since, "next_review": due}

    def proposal_by(self, user_id):
        """The pending proposal, if this partner wrote it (they may withdraw it)."""
        rs = self.pending
        return rs if rs is not None and rs.revision.author_id == user_id else None


def _active(memberships, moment):
    return [
        m
        for m in memberships
        if m.joined_at <= moment and (m.left_at is None or m.left_at > moment)
    ]


def required_at(revision, memberships, moment):
    """Return the user ids whose answers ``revision`` needs at ``moment``."""
    active = _active(memberships, moment)
    original = [m.user_id for m in active if m.joined_at <= revision.created_at]
    if len(original) >= 2:
        return original
    return [m.user_id for m in active]


def _effective(consents, moment):
    answers = {}
    for consent in consents:
        if consent.created_at > moment:
            break
        if consent.decision == "withdraw":
            answers.pop(consent.user_id, None)
        elif consent.decision != "retract":
            answers[consent.user_id] = consent
    return answers


def derive(revisions, consents, memberships, now, reaffirmations=()):
    """Return the AgreementState of one agreement (``reaffirmations``: the
    reviews that kept a revision, each with ``revision_id`` and ``created_at``)."""
    by_revision = {}
    for consent in sorted(consents, key=lambda c: (c.created_at, c.seq, c.id or 0)):
        by_revision.setdefault(consent.revision_id, []).append(consent)
    revisions = sorted(revisions, key=lambda r: r.number)
    state = AgreementState(revisions=[])
    for index, revision in enumerate(revisions):
        own = by_revision.get(revision.id, [])
        rs = RevisionState(revision=revision)
        retract = next((c for c in own if c.decision == "retract"), None)
        following = revisions[index + 1] if index + 1 < len(revisions) else None
        ends = [
            t for t in (retract and retract.created_at, following and following.created_at) if t
        ]
        window_end = min(ends) if ends else None
        moments = sorted(
            {revision.created_at}
            | {c.created_at for c in own}
            | {m.left_at for m in memberships if m.left_at}
            | {m.joined_at for m in memberships}
        )
        for moment in moments:
            if moment < revision.created_at or (window_end and moment >= window_end):
                continue
            if moment > now:
                break
            answers = _effective(own, moment)
            required = required_at(revision, memberships, moment)
            if len(required) >= 2 and all(
                u in answers and answers[u].decision in ACCEPTING for u in required
            ):
                rs.in_force_at = moment
                break
        rs.answers = _effective(own, now if window_end is None else window_end)
        rs.required = required_at(revision, memberships, rs.in_force_at or window_end or now)
        if rs.in_force_at:
            # A late joiner's acceptance of the revision in force still counts.
            rs.answers = _effective(own, now)
            if revision.action == "retire":
                rs.status = "retired"
                state.retired = rs
            else:
                if state.in_force:
                    state.in_force.status = "was in force"
                rs.status = "in force"
                state.in_force = rs
                state.retired = None
        elif retract:
            rs.status, rs.withdrawn_at = "withdrawn", retract.created_at
        elif following:
            rs.status = "superseded"
        else:
            rs.status = "pending"
            state.pending = rs
        state.revisions.append(rs)
    if state.retired and state.in_force:
        state.in_force.status = "was in force"
    if state.in_force_now is not None:
        kept = [
            r.created_at
            for r in reaffirmations
            if r.revision_id == state.in_force.revision.id and r.created_at <= now
        ]
        state.reaffirmed_at = max(kept, default=None)
    return state


def rebuild(stored, revisions, consents, memberships, now):
    """The parts of an AgreementState that pages show, rebuilt from the stored
    state and the answers to the revisions it names: never a whole history.

    ``stored`` is the stored state (label, current_id, in_force_id,
    in_force_since, pending_id, retired_at, latest_number); ``revisions`` maps
    row ids to the revisions it names (and, where loaded, the newest one);
    ``consents`` are the answers to those revisions. Each revision's answers
    and the partners it asks are worked out exactly as ``derive`` does.
    """
    by_revision = {}
    for consent in sorted(consents, key=lambda c: (c.created_at, c.seq, c.id or 0)):
        by_revision.setdefault(consent.revision_id, []).append(consent)

    def revision_state(revision, status, at):
        rs = RevisionState(revision=revision, status=status, in_force_at=at)
        rs.answers = _effective(by_revision.get(revision.id, []), now)
        rs.required = required_at(revision, memberships, at or now)
        return rs

    retired = stored.label == "retired"
    state = AgreementState(revisions=[], next_review=getattr(stored, "next_review", None))
    reviewed = getattr(stored, "reviewed_at", None)
    if reviewed is not None and reviewed != stored.in_force_since:
        state.reaffirmed_at = reviewed
    if stored.in_force_id is not None:
        state.in_force = revision_state(
            revisions[stored.in_force_id],
            "was in force" if retired else "in force",
            stored.in_force_since,
        )
    if stored.pending_id is not None:
        state.pending = revision_state(revisions[stored.pending_id], "pending", None)
    latest = next((r for r in revisions.values() if r.number == stored.latest_number), None)
    if retired and latest is not None:
        state.retired = revision_state(latest, "retired", stored.retired_at)
    elif retired:  # a list of agreements loads no retirement's own words
        state.retired = RevisionState(
            revision=None, status="retired", in_force_at=stored.retired_at
        )
    shown = {
        rs.revision.id: rs
        for rs in (state.in_force, state.pending, state.retired)
        if rs and rs.revision is not None
    }
    if latest is not None and latest.id not in shown:
        status = "withdrawn" if stored.label == "withdrawn" else "superseded"
        shown[latest.id] = revision_state(latest, status, None)
    if stored.current_id not in shown and stored.current_id in revisions:
        shown[stored.current_id] = revision_state(revisions[stored.current_id], "superseded", None)
    state.revisions = sorted(shown.values(), key=lambda rs: rs.revision.number)
    return state


def history_slice(revisions, consents, memberships, stored, now):
    """Revision states for a page of history: ``revisions`` are that page's
    revisions and the one right after it (whose arrival ends the window of the
    last). Each one's status is its own replay; "in force" is the stored one."""
    state = derive(revisions, consents, memberships, now)
    for rs in state.revisions:
        if rs.revision.id == stored.in_force_id:
            rs.status = "was in force" if stored.label == "retired" else "in force"
        elif rs.revision.id == stored.pending_id:
            rs.status = "pending"
        elif rs.status == "in force":
            rs.status = "was in force"
        elif rs.status == "pending":
            rs.status = "superseded"
    return state.revisions
