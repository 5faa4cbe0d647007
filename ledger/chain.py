"""``flask --app ledger verify``: every hash chain, and every stored state
against a fresh replay of its history.

Each link is h = SHA-256(previous h ‖ canonical serialisation of the row)
(``ledger.hashchain``). The agreement row keeps the head and the length of
its chain: a deleted last link is caught as well as a changed or reordered
one. The stored state (``StoredState``, ``Waiting``) must equal what the
replay (``ledger.consent``) gives for the history as it is.

The check streams: agreements in batches, each batch loading only its own
rows, so it runs in bounded memory over any number of ledgers.
"""

from dataclasses import dataclass

from .consent import derive
from .db import utcnow
from .hashchain import consent_payload, link, reaffirmation_payload, revision_payload
from .models.accounts import User
from .models.agreements import (
    Agreement,
    Consent,
    Reaffirmation,
    Revision,
    StoredState,
    Waiting,
)
from .models.ledgers import Ledger, Membership

BATCH = 200


@dataclass
class Broken:
    agreement: Agreement
    ledger_name: str
    position: int
    reason: str

    def __str__(self):
        return (
            f"Broken chain: agreement {self.agreement.uuid} in ledger "
            f"“{self.ledger_name}”, link {self.position}: {self.reason}."
        )


@dataclass
class Drifted:
    """The stored state of an agreement differs from the replay of its history."""

    agreement: Agreement
    ledger_name: str
    field: str
    stored: object
    replayed: object

    def __str__(self):
        return (
            f"Stored state differs from its history: agreement {self.agreement.uuid} in "
            f"ledger “{self.ledger_name}”, {self.field}: stored {self.stored!r}, "
            f"the replay gives {self.replayed!r}."
        )


def verify_agreement(agreement, revisions, consents, users, reaffirmations=()):
    """Check one agreement's chain; return (position, reason) or None."""
    by_uuid = {r.id: r.uuid for r in revisions}
    rows = sorted(
        revisions + consents + list(reaffirmations),
        key=lambda r: (r.chain_seq, not isinstance(r, Revision)),
    )
    head = ""
    for position, row in enumerate(rows, start=1):
        if row.chain_seq != position:
            return position, f"expected link {position}, found link {row.chain_seq} here"
        if isinstance(row, Revision):
            data = revision_payload(row, agreement.uuid, users[row.author_id])
        elif isinstance(row, Reaffirmation):
            data = reaffirmation_payload(
                row, agreement.uuid, by_uuid.get(row.revision_id), row.partner_uuids
            )
        else:
            data = consent_payload(
                row, agreement.uuid, users[row.user_id], by_uuid.get(row.revision_id)
            )
        head = link(head, data)
        if head != row.chain_hash:
            return position, "its content or position does not match its hash"
    if len(rows) != agreement.chain_length:
        return len(rows) + 1, (
            f"the agreement records {agreement.chain_length} links, {len(rows)} remain"
        )
    if head != agreement.chain_head:
        return len(rows), "the last link does not match the agreement's recorded head"
    return None


def compare_state(stored, waiting, state, partners, zone_name="UTC"):
    """Return (field, stored, replayed) for the first difference, or None."""
    values, replayed_waiting = state.stored(partners)
    values.update(state.review_stored(zone_name))
    if stored is None:
        return "state", None, values["label"]
    mine = {**stored.derived(), **stored.reviewed()}
    for name, value in values.items():
        if mine[name] != value:
            return name, mine[name], value
    if sorted(waiting) != replayed_waiting:
        return "waiting for", sorted(waiting), replayed_waiting
    return None


def _batches():
    last = 0
    while True:
        batch = list(
            Agreement.select().where(Agreement.id > last).order_by(Agreement.id).limit(BATCH)
        )
        if not batch:
            return
        yield batch
        last = batch[-1].id


def verify_all(now=None):
    """Check every chain and stored state.

    Returns (agreements checked, links checked, the first Broken or Drifted).
    """
    now = now or utcnow()
    checked = links = 0
    for batch in _batches():
        ids = [a.id for a in batch]
        ledger_ids = sorted({a.ledger_id for a in batch})
        revisions, consents = {i: [] for i in ids}, {i: [] for i in ids}
        kept = {i: [] for i in ids}
        for revision in Revision.select().where(Revision.agreement.in_(ids)):
            revisions[revision.agreement_id].append(revision)
        for consent in Consent.select().where(Consent.agreement.in_(ids)):
            consents[consent.agreement_id].append(consent)
        for row in Reaffirmation.select().where(Reaffirmation.agreement.in_(ids)):
            kept[row.agreement_id].append(row)
        user_ids = {r.author_id for rs in revisions.values() for r in rs}
        user_ids |= {c.user_id for cs in consents.values() for c in cs}
        users = {u.id: u.uuid for u in User.select(User.id, User.uuid).where(User.id.in_(user_ids))}
        ledgers, zones = {}, {}
        for lg in Ledger.select(Ledger.id, Ledger.name, Ledger.time_zone).where(
            Ledger.id.in_(ledger_ids)
        ):
            ledgers[lg.id], zones[lg.id] = lg.name, lg.time_zone
        memberships = {i: [] for i in ledger_ids}
        for m in Membership.select().where(Membership.ledger.in_(ledger_ids)):
            memberships[m.ledger_id].append(m)
        stored = {
            s.agreement_id: s for s in StoredState.select().where(StoredState.agreement.in_(ids))
        }
        waiting = {i: [] for i in ids}
        for row in Waiting.select().where(Waiting.agreement.in_(ids)):
            waiting[row.agreement_id].append(row.user_id)
        for agreement in batch:
            name = ledgers[agreement.ledger_id]
            found = verify_agreement(
                agreement,
                revisions[agreement.id],
                consents[agreement.id],
                users,
                kept[agreement.id],
            )
            if found is not None:
                return checked, links, Broken(agreement, name, *found)
            if revisions[agreement.id]:
                ledger_memberships = memberships[agreement.ledger_id]
                state = derive(
                    revisions[agreement.id],
                    consents[agreement.id],
                    ledger_memberships,
                    now,
                    kept[agreement.id],
                )
                partners = [m.user_id for m in ledger_memberships if m.left_at is None]
                drift = compare_state(
                    stored.get(agreement.id),
                    waiting[agreement.id],
                    state,
                    partners,
                    zones[agreement.ledger_id],
                )
                if drift is not None:
                    return checked, links, Drifted(agreement, name, *drift)
            checked += 1
            links += agreement.chain_length
    return checked, links, None
