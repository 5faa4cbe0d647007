"""The hash chain's arithmetic: pure functions, no database.

Each link is h = SHA-256(previous h ‖ "\\n" ‖ canonical JSON of the row). The
serialisation names things by their UUIDs (never row ids) and gives times in
UTC at microsecond precision, so a ledger exported and imported elsewhere
still verifies.
"""

import hashlib
import json
from datetime import UTC


def canonical_json(value):
    """Serialise to the one JSON form used for hashing and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content):
    """Return the SHA-256 of an agreement's content in canonical form."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def timestamp(value):
    """Format a time as UTC with microseconds, the chain's one precision."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def revision_payload(revision, agreement_uuid, author_uuid):
    """The dict a revision contributes to its agreement's chain."""
    return {
        "type": "revision",
        "agreement": str(agreement_uuid),
        "uuid": str(revision.uuid),
        "number": revision.number,
        "action": revision.action,
        "content": json.loads(revision.content),
        "content_hash": revision.content_hash,
        "reason": revision.reason,
        "author": str(author_uuid),
        "created_at": timestamp(revision.created_at),
    }


def consent_payload(consent, agreement_uuid, user_uuid, revision_uuid):
    """The dict an answer contributes to its agreement's chain."""
    return {
        "type": "consent",
        "agreement": str(agreement_uuid),
        "uuid": str(consent.uuid),
        "revision": str(revision_uuid),
        "user": str(user_uuid),
        "decision": consent.decision,
        "note": consent.note,
        "content_hash": consent.content_hash,
        "seq": consent.seq,
        "created_at": timestamp(consent.created_at),
    }


def reaffirmation_payload(reaffirmation, agreement_uuid, revision_uuid, partner_uuids):
    """The dict a reaffirmation (every partner chose "keep" in a review)
    contributes to its agreement's chain: the revision kept, its words' hash,
    and who kept it."""
    return {
        "type": "reaffirmation",
        "agreement": str(agreement_uuid),
        "uuid": str(reaffirmation.uuid),
        "revision": str(revision_uuid),
        "content_hash": reaffirmation.content_hash,
        "partners": sorted(str(u) for u in partner_uuids),
        "created_at": timestamp(reaffirmation.created_at),
    }


def link(previous, data):
    """Return the next chain hash after ``previous`` for ``data``."""
    return hashlib.sha256(previous.encode() + b"\n" + canonical_json(data).encode()).hexdigest()
