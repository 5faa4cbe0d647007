"""Tamper evidence: one hash chain per agreement over its revisions and consents.

Each link is h = SHA-256(previous h ‖ canonical serialisation of the row). The
serialisation names things by their UUIDs (never row ids) and gives times in
UTC at microsecond precision, so a ledger exported and imported elsewhere
still verifies. The agreement row keeps the head and the length of its chain:
a deleted last link is caught as well as a changed or reordered one.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC

from .models.accounts import User
from .models.agreements import Agreement, Conflict, Consent, Revision, canonical_json
from .models.ledgers import Ledger


def timestamp(value):
    """Format a time as UTC with microseconds, the chain's one precision."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload(row, agreement_uuid, user_uuid, revision_uuid=None):
    """Return the dict that a revision or consent contributes to the chain."""
    if isinstance(row, Revision):
        return {
            "type": "revision",
            "agreement": str(agreement_uuid),
            "uuid": str(row.uuid),
            "number": row.number,
            "action": row.action,
            "content": row.fields,
            "content_hash": row.content_hash,
            "reason": row.reason,
            "author": str(user_uuid),
            "created_at": timestamp(row.created_at),
        }
    return {
        "type": "consent",
        "agreement": str(agreement_uuid),
        "uuid": str(row.uuid),
        "revision": str(revision_uuid),
        "user": str(user_uuid),
        "decision": row.decision,
        "note": row.note,
        "content_hash": row.content_hash,
        "seq": row.seq,
        "created_at": timestamp(row.created_at),
    }


def link(previous, data):
    """Return the next chain hash after ``previous`` for ``data``."""
    return hashlib.sha256(previous.encode() + b"\n" + canonical_json(data).encode()).hexdigest()


def append(head, rows):
    """Insert ``rows`` as the next links of ``head``'s chain.

    The caller holds the agreement row locked (``write_transaction`` and
    ``lock``); the compare-and-set on the chain length below makes a fork
    impossible even so.
    """
    start = head.chain_length
    for row in rows:
        user = row.author if isinstance(row, Revision) else row.user
        revision_uuid = None if isinstance(row, Revision) else row.revision.uuid
        head.chain_length += 1
        head.chain_head = link(head.chain_head, payload(row, head.uuid, user.uuid, revision_uuid))
        row.chain_seq, row.chain_hash = head.chain_length, head.chain_head
        row.save(force_insert=True)
    moved = (
        Agreement.update(chain_head=head.chain_head, chain_length=head.chain_length)
        .where((Agreement.id == head.id) & (Agreement.chain_length == start))
        .execute()
    )
    if not moved:
        raise Conflict()


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


def verify_agreement(agreement, revisions, consents, users):
    """Check one agreement's chain; return a Broken or None."""
    by_uuid = {r.id: r.uuid for r in revisions}
    rows = sorted(revisions + consents, key=lambda r: (r.chain_seq, isinstance(r, Consent)))
    head = ""
    for position, row in enumerate(rows, start=1):
        if row.chain_seq != position:
            return position, f"expected link {position}, found link {row.chain_seq} here"
        user_id = row.author_id if isinstance(row, Revision) else row.user_id
        revision_uuid = None if isinstance(row, Revision) else by_uuid.get(row.revision_id)
        head = link(head, payload(row, agreement.uuid, users[user_id], revision_uuid))
        if head != row.chain_hash:
            return position, "its content or position does not match its hash"
    if len(rows) != agreement.chain_length:
        return len(rows) + 1, (
            f"the agreement records {agreement.chain_length} links, {len(rows)} remain"
        )
    if head != agreement.chain_head:
        return len(rows), "the last link does not match the agreement's recorded head"
    return None


def verify_all():
    """Check every chain; return (agreements checked, links checked, first Broken)."""
    users = {u.id: u.uuid for u in User.select(User.id, User.uuid)}
    ledgers = {lg.id: lg.name for lg in Ledger.select(Ledger.id, Ledger.name)}
    revisions, consents = {}, {}
    for revision in Revision.select():
        revisions.setdefault(revision.agreement_id, []).append(revision)
    for consent in Consent.select():
        consents.setdefault(consent.agreement_id, []).append(consent)
    checked = links = 0
    for agreement in Agreement.select().order_by(Agreement.id):
        found = verify_agreement(
            agreement, revisions.get(agreement.id, []), consents.get(agreement.id, []), users
        )
        if found is not None:
            position, reason = found
            return checked, links, Broken(agreement, ledgers[agreement.ledger_id], position, reason)
        checked += 1
        links += agreement.chain_length
    return checked, links, None
