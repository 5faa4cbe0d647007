"""A ledger as a file: export (JSON and Markdown) and exact re-import.

The JSON export carries no row ids: people, the ledger, agreements, revisions
and answers are named by their UUIDs, times are UTC with microseconds, and
each agreement lists its hash-chain links exactly as they were hashed, so the
file can be checked without the server (``ledger/exportcheck.py``) and
imported into any instance, where every chain still verifies. The format is
described by ``docs/export.schema.json``; export → import → export gives the
same file apart from ``exported_at``.

Reviews carry only what their partners may all see already: an answer to an
agreement that has not settled stays out until every partner it waits for
has answered, except the exporter's own (a download by a partner carries
theirs; the command line, with no exporter, carries none of them).
"""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema

from . import exportcheck
from .db import db, utcnow
from .forms.agreements import FORMS
from .hashchain import (
    canonical_json,
    consent_payload,
    reaffirmation_payload,
    revision_payload,
    timestamp,
)
from .models import (
    Activity,
    AgendaItem,
    Agreement,
    Consent,
    Ledger,
    Membership,
    PauseLog,
    Reaffirmation,
    Review,
    ReviewAnswer,
    ReviewItem,
    Revision,
    User,
)
from .models.agreements import refresh_ledger
from .models.reviews import CHOICES, OUTCOMES, visible_answers

FORMAT = "ledger-export"
VERSION = 1
SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "export.schema.json").read_text()
)
#: An export larger than this is refused before it is parsed.
MAX_BYTES = 64 * 1024 * 1024


class ImportRefused(Exception):  # noqa: N818 - a message for whoever imports
    """The file can't be imported; its text says what is wrong and where."""


def _time(value):
    return timestamp(value) if value is not None else None


def _parse_time(text):
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:  # the schema's pattern lets "2024-02-30T…" through
        raise ImportRefused(f"{text!r} is not a time that exists.") from None


def export_ledger(ledger, exporter=None):
    """The whole ledger as a dict, ready for JSON; ``exporter``'s own review
    answers are in it even where the others' are still hidden."""
    memberships = list(
        Membership.of_ledger(ledger.id).order_by(Membership.joined_at, Membership.id)
    )
    people = {}
    links = []
    agreements = list(Agreement.select().where(Agreement.ledger == ledger.id))
    revisions = {}
    for revision in (
        Revision.select(Revision, User)
        .join(User)
        .where(Revision.agreement.in_([a.id for a in agreements]))
    ):
        revisions[revision.id] = revision
        people.setdefault(revision.author.uuid, revision.author.display_name)
    consents = list(
        Consent.select(Consent, User)
        .join(User)
        .where(Consent.agreement.in_([a.id for a in agreements]))
    )
    for consent in consents:
        people.setdefault(consent.user.uuid, consent.user.display_name)
    for m in memberships:
        people[m.user.uuid] = m.user.display_name
    uuids = {a.id: a.uuid for a in agreements}
    chains = {a.id: [] for a in agreements}
    for revision in revisions.values():
        payload = revision_payload(revision, uuids[revision.agreement_id], revision.author.uuid)
        chains[revision.agreement_id].append((revision.chain_seq, payload, revision.chain_hash))
    for consent in consents:
        revision = revisions[consent.revision_id]
        payload = consent_payload(
            consent, uuids[consent.agreement_id], consent.user.uuid, revision.uuid
        )
        chains[consent.agreement_id].append((consent.chain_seq, payload, consent.chain_hash))
    for kept in Reaffirmation.select().where(Reaffirmation.agreement.in_(list(uuids))):
        revision = revisions[kept.revision_id]
        payload = reaffirmation_payload(
            kept, uuids[kept.agreement_id], revision.uuid, kept.partner_uuids
        )
        chains[kept.agreement_id].append((kept.chain_seq, payload, kept.chain_hash))
    for agreement in sorted(agreements, key=lambda a: (a.created_at, str(a.uuid))):
        # Each link as it was hashed, with the hash stored for it: the file
        # proves what the database holds (a changed row fails its check).
        chain = [
            {**payload, "hash": chain_hash}
            for _, payload, chain_hash in sorted(chains[agreement.id], key=lambda item: item[0])
        ]
        links.append(
            {
                "uuid": str(agreement.uuid),
                "kind": agreement.kind,
                "created_at": _time(agreement.created_at),
                "chain_length": agreement.chain_length,
                "chain_head": agreement.chain_head,
                "links": chain,
            }
        )
    agreement_uuids = {a.id: str(a.uuid) for a in agreements}
    revision_uuids = {r.id: str(r.uuid) for r in revisions.values()}
    reviews, named = _reviews(
        ledger,
        memberships,
        agreement_uuids,
        revision_uuids,
        exporter.id if exporter is not None else None,
    )
    for user in named:
        people.setdefault(user.uuid, user.display_name)
    by_uuid = {str(k): v for k, v in people.items()}
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _time(utcnow()),
        "ledger": {
            "uuid": str(ledger.uuid),
            "name": ledger.name,
            "time_zone": ledger.time_zone,
            "created_at": _time(ledger.created_at),
            "cooling_off": ledger.cooling_off,
            "cooling_off_hours": ledger.cooling_off_hours,
        },
        "people": [{"uuid": u, "display_name": by_uuid[u]} for u in sorted(by_uuid)],
        "partners": [
            {
                "person": str(m.user.uuid),
                "name_here": m.display_name,
                "joined_at": _time(m.joined_at),
                "left_at": _time(m.left_at),
                "ended_how": m.ended_how,
            }
            for m in memberships
        ],
        "agreements": links,
        "pauses": [
            {
                "noted_by": str(p.user.uuid),
                "signal": agreement_uuids.get(p.agreement_id),
                "started_at": _time(p.started_at),
                "resumed_at": _time(p.resumed_at),
                "noted_at": _time(p.created_at),
            }
            for p in PauseLog.in_ledger(ledger.id).order_by(PauseLog.started_at, PauseLog.id)
        ],
        "agenda": [
            {
                "parked_by": str(item.author.uuid),
                "topic": item.topic,
                "note": item.note,
                "parked_at": _time(item.created_at),
                "discussed_at": _time(item.discussed_at),
                "discussed_by": str(item.discussed_by.uuid) if item.discussed_by_id else None,
            }
            for item in AgendaItem.in_ledger(ledger.id).order_by(
                AgendaItem.created_at, AgendaItem.id
            )
        ],
        "reviews": reviews,
    }


def _reviews(ledger, memberships, agreement_uuids, revision_uuids, exporter_id):
    """The ledger's reviews, oldest first, and the people they name. Four
    queries, five when someone named is no longer among the memberships."""
    reviews = list(Review.in_ledger(ledger.id, limit=None).order_by(Review.started_at, Review.id))
    items, answers = ReviewItem.of_reviews([r.id for r in reviews])
    # of_reviews reads the answers of settled items only; the open ones are
    # read here and go through the same rule as the review's page.
    answers.update(
        ReviewAnswer.of_items(
            [i.id for group in items.values() for i in group if i.outcome is None]
        )
    )
    users = {m.user_id: m.user for m in memberships}
    missing = (
        {r.started_by_id for r in reviews}
        | {i.parked_by_id for group in items.values() for i in group}
        | {a.user_id for group in answers.values() for a in group}
    ) - set(users)
    missing.discard(None)
    if missing:
        users.update((u.id, u) for u in User.select().where(User.id.in_(list(missing))))
    named = {}

    def person(user_id):
        if user_id is None:
            return None
        named[user_id] = users[user_id]
        return str(users[user_id].uuid)

    found = []
    for review in reviews:
        required = review.waited_for(memberships)
        entries = []
        for item in sorted(items[review.id], key=lambda i: (i.position, i.id)):
            shown = visible_answers(
                sorted(answers[item.id], key=lambda a: (a.created_at, a.id)),
                required,
                item.outcome is not None,
                exporter_id,
            )
            entries.append(
                {
                    "agreement": agreement_uuids[item.agreement_id],
                    "revision": revision_uuids[item.revision_id],
                    "since": _time(item.since),
                    "due_on": item.due_on,
                    "position": item.position,
                    "outcome": item.outcome,
                    "settled_at": _time(item.settled_at),
                    "retirement": revision_uuids.get(item.retirement_id),
                    "parked_at": _time(item.parked_at),
                    "parked_by": person(item.parked_by_id),
                    "answers": [
                        {
                            "person": person(a.user_id),
                            "choice": a.choice,
                            "note": a.note,
                            "answered_at": _time(a.created_at),
                        }
                        for a in shown
                    ],
                }
            )
        found.append(
            {
                "started_at": _time(review.started_at),
                "started_by": person(review.started_by_id),
                "scope": review.scope,
                "finished_at": _time(review.finished_at),
                "items": entries,
            }
        )
    return found, list(named.values())


def dumps(export):
    """The export as the JSON text people download (stable and readable)."""
    return json.dumps(export, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def to_markdown(export):
    """A readable document of the same export, for a person or a therapist."""
    names = {p["uuid"]: p["display_name"] for p in export["people"]}
    lines = [
        f"# {export['ledger']['name']}",
        "",
        f"Exported {export['exported_at']} (times in UTC). Ledger {export['ledger']['uuid']}.",
        "",
        "## Partners",
        "",
    ]
    for m in export["partners"]:
        left = f", until {m['left_at']} ({m['ended_how']})" if m["left_at"] else ""
        lines.append(f"- {names.get(m['person'], 'a former partner')}: from {m['joined_at']}{left}")
    lines += ["", "## Agreements", ""]
    for agreement in export["agreements"]:
        revisions = [link for link in agreement["links"] if link["type"] == "revision"]
        title = _title(agreement["kind"], revisions[-1]["content"]) if revisions else "Untitled"
        lines += [f"### {title} ({agreement['kind']})", ""]
        lines.append(f"Chain head `{agreement['chain_head']}` ({agreement['chain_length']} links).")
        lines.append("")
        for link in agreement["links"]:
            who = names.get(link.get("author") or link.get("user"), "a former partner")
            if link["type"] == "revision":
                lines.append(
                    f"- Revision {link['number']} ({link['action']}) by {who}, {link['created_at']}"
                )
                for key, value in link["content"].items():
                    lines.append(f"  - {key}: {value}")
                if link["reason"]:
                    lines.append(f"  - reason: {link['reason']}")
            elif link["type"] == "consent":
                note = f": “{link['note']}”" if link.get("note") else ""
                lines.append(f"  - {who}: {link['decision']}, {link['created_at']}{note}")
            else:
                lines.append(f"  - {link['type']}, {link.get('created_at', '')}")
        lines.append("")
    lines += ["## Pauses", ""]
    for pause in export["pauses"]:
        back = f", back {pause['resumed_at']}" if pause["resumed_at"] else ""
        lines.append(f"- {names.get(pause['noted_by'], 'a partner')}: {pause['started_at']}{back}")
    lines += ["", "## For our next session", ""]
    for item in export["agenda"]:
        done = f" (discussed {item['discussed_at']})" if item["discussed_at"] else ""
        lines.append(f"- {item['topic']}{done}" + (f": {item['note']}" if item["note"] else ""))
    lines += ["", "## Reviews"]
    lines += _reviews_markdown(export, names)
    return "\n".join(lines) + "\n"


def _title(kind, content):
    """The line an agreement is known by, as its pages show it."""
    return FORMS[kind].title_of(content) or "Untitled"


#: What a review gathered, as the Markdown says it.
REVIEW_SCOPES = {"due": "what was due", "all": "every agreement in force"}


def _reviews_markdown(export, names):
    """The lines of the Markdown's review section: when, which agreements,
    what came of each, and who answered what (as far as the export shows)."""
    words = {
        link["uuid"]: (_title(agreement["kind"], link["content"]), link["number"])
        for agreement in export["agreements"]
        for link in agreement["links"]
        if link["type"] == "revision"
    }
    lines = [] if export["reviews"] else ["", "No reviews yet."]
    for review in export["reviews"]:
        who = names.get(review["started_by"], "a former partner")
        lines += ["", f"### Review of {review['started_at']}", ""]
        lines.append(f"Started by {who}, of {REVIEW_SCOPES.get(review['scope'], review['scope'])}.")
        if review["finished_at"]:
            lines.append(f"Finished {review['finished_at']}.")
        else:
            lines.append(
                "Still under way: an answer shows here once every partner has answered, "
                "except the exporter's own."
            )
        lines.append("")
        for item in review["items"]:
            title, number = words[item["revision"]]
            if item["outcome"]:
                outcome = f"{OUTCOMES.get(item['outcome'], item['outcome'])}, {item['settled_at']}"
            else:
                outcome = "waiting for answers"
            lines.append(f"- {title} (revision {number}): {outcome}")
            if item["parked_at"]:
                parker = names.get(item["parked_by"], "a former partner")
                lines.append(f"  - parked for the next session by {parker}, {item['parked_at']}")
            for given in item["answers"]:
                note = f": “{given['note']}”" if given["note"] else ""
                choice = CHOICES.get(given["choice"], given["choice"])
                lines.append(
                    f"  - {names.get(given['person'], 'a former partner')}: {choice}, "
                    f"{given['answered_at']}{note}"
                )
    return lines


def validate(export):
    """Raise ImportRefused naming the first problem and where it is."""
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise ImportRefused('This is not a Ledger export (no "format": "ledger-export").')
    if export.get("version") != VERSION:
        raise ImportRefused(
            f"This export is version {export.get('version')!r}; this Ledger reads {VERSION}."
        )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(SCHEMA).iter_errors(export)
    )
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise ImportRefused(
            f"The export is malformed at {where.lstrip('.') or 'the top'}: {error.message}"
        )
    problems, _, _ = exportcheck.check(export)
    if problems:
        raise ImportRefused("A chain does not verify: " + problems[0] + ".")
    people = {p["uuid"] for p in export["people"]}
    for index, agreement in enumerate(export["agreements"]):
        numbers, revisions = [], set()
        for position, link in enumerate(agreement["links"], start=1):
            where = f"agreement {index + 1}, link {position}"
            if link["type"] == "revision":
                numbers.append(link["number"])
                revisions.add(link["uuid"])
                person = link["author"]
            elif link["type"] == "consent":
                if link["revision"] not in revisions:
                    raise ImportRefused(
                        f"{where}: an answer to a revision that comes later or is missing."
                    )
                person = link["user"]
            elif link["type"] == "reaffirmation":
                if link["revision"] not in revisions:
                    raise ImportRefused(
                        f"{where}: a review kept a revision that comes later or is missing."
                    )
                strangers = [p for p in link["partners"] if p not in people]
                person = strangers[0] if strangers else link["partners"][0]
            else:
                raise ImportRefused(
                    f"{where}: this Ledger does not know links of type {link['type']!r}."
                )
            if person not in people:
                raise ImportRefused(f"{where}: a person who is not among the export's people.")
        if numbers != list(range(1, len(numbers) + 1)):
            raise ImportRefused(f"agreement {index + 1}: its revisions are not numbered 1, 2, 3….")
    for index, m in enumerate(export["partners"]):
        if m["person"] not in people:
            raise ImportRefused(
                f"partner {index + 1}: a person who is not among the export's people."
            )
    _validate_reviews(export, people)


def _validate_reviews(export, people):
    """Raise ImportRefused at the first review that names something the file
    does not hold, or that no review could have come to."""
    words = {
        a["uuid"]: {link["uuid"] for link in a["links"] if link["type"] == "revision"}
        for a in export["agreements"]
    }
    stranger = "a person who is not among the export's people."
    under_way = 0
    for index, review in enumerate(export["reviews"], start=1):
        where = f"review {index}"
        if review["started_by"] is not None and review["started_by"] not in people:
            raise ImportRefused(f"{where}: started by {stranger}")
        gathered = set()
        for number, item in enumerate(review["items"], start=1):
            here = f"{where}, item {number}"
            if item["agreement"] not in words:
                raise ImportRefused(f"{here}: agreement {item['agreement']} is not in the export.")
            if item["agreement"] in gathered:
                raise ImportRefused(f"{here}: the same agreement is in this review twice.")
            gathered.add(item["agreement"])
            revisions = words[item["agreement"]]
            if item["revision"] not in revisions:
                raise ImportRefused(f"{here}: the words reviewed are not a revision of it.")
            if item["due_on"] is not None:
                try:
                    date.fromisoformat(item["due_on"])
                except ValueError:
                    raise ImportRefused(f"{here}: due on a date that does not exist.") from None
            if (item["outcome"] is None) != (item["settled_at"] is None):
                raise ImportRefused(
                    f"{here}: its outcome and the time it settled are not both given or both null."
                )
            if item["retirement"] is not None and item["outcome"] != "retire":
                raise ImportRefused(f"{here}: a retirement, but retiring it was not chosen.")
            if item["retirement"] is not None and item["retirement"] not in revisions:
                raise ImportRefused(f"{here}: its retirement is not a revision of it.")
            if item["parked_at"] is not None and item["outcome"] != "undecided":
                raise ImportRefused(f"{here}: parked, but its partners did not disagree.")
            if item["parked_by"] is not None and item["parked_by"] not in people:
                raise ImportRefused(f"{here}: parked by {stranger}")
            answered = set()
            for count, given in enumerate(item["answers"], start=1):
                there = f"{here}, answer {count}"
                if given["person"] not in people:
                    raise ImportRefused(f"{there}: {stranger}")
                if given["person"] in answered:
                    raise ImportRefused(f"{there}: a second answer by the same person.")
                answered.add(given["person"])
        if review["finished_at"] is None:
            under_way += 1
            if under_way > 1:
                raise ImportRefused(f"{where}: a second review under way (one at a time).")
        elif any(item["outcome"] is None for item in review["items"]):
            raise ImportRefused(f"{where}: finished, but an agreement in it has no outcome.")


def import_ledger(export):
    """Restore an exported ledger, in one transaction; return (ledger, placeholders made).

    People are matched to accounts by UUID; anyone without an account here
    gets a placeholder account that cannot sign in until its owner claims it
    through ``flask --app ledger reset-link UUID``.
    """
    validate(export)
    with db.database.atomic():
        if Ledger.select().where(Ledger.uuid == export["ledger"]["uuid"]).exists():
            raise ImportRefused("This instance already holds this ledger (the same UUID).")
        uuids = [a["uuid"] for a in export["agreements"]]
        if uuids and Agreement.select().where(Agreement.uuid.in_(uuids)).exists():
            raise ImportRefused("This instance already holds an agreement of this export.")
        info = export["ledger"]
        users, placeholders = {}, 0
        for person in export["people"]:
            user = User.get_or_none(User.uuid == person["uuid"])
            if user is None:
                user = User.placeholder(person["uuid"], person["display_name"], info["time_zone"])
                placeholders += 1
            users[person["uuid"]] = user
        ledger = Ledger.create(
            uuid=info["uuid"],
            name=info["name"],
            time_zone=info["time_zone"],
            created_at=_parse_time(info["created_at"]),
            cooling_off=info["cooling_off"],
            cooling_off_hours=info["cooling_off_hours"],
        )
        for m in export["partners"]:
            Membership.create(
                ledger=ledger,
                user=users[m["person"]],
                display_name=m["name_here"],
                joined_at=_parse_time(m["joined_at"]),
                left_at=_parse_time(m["left_at"]),
                ended_how=m["ended_how"],
            )
        agreement_ids, revision_ids = {}, {}
        for item in export["agreements"]:
            first = next(link for link in item["links"] if link["type"] == "revision")
            agreement = Agreement.create(
                uuid=item["uuid"],
                ledger=ledger,
                kind=item["kind"],
                created_by=users[first["author"]],
                created_at=_parse_time(item["created_at"]),
                chain_head=item["chain_head"],
                chain_length=item["chain_length"],
            )
            agreement_ids[item["uuid"]] = agreement.id
            revisions = {}
            for position, link in enumerate(item["links"], start=1):
                created = _parse_time(link["created_at"])
                if link["type"] == "revision":
                    row = Revision.create(
                        uuid=link["uuid"],
                        agreement=agreement,
                        number=link["number"],
                        action=link["action"],
                        content=canonical_json(link["content"]),
                        content_hash=link["content_hash"],
                        reason=link["reason"],
                        author=users[link["author"]],
                        created_at=created,
                        chain_seq=position,
                        chain_hash=link["hash"],
                    )
                    revisions[link["uuid"]] = row
                    revision_ids[link["uuid"]] = row.id
                    Activity.create(ledger=ledger, created_at=created, revision=row)
                elif link["type"] == "reaffirmation":
                    Reaffirmation.create(
                        uuid=link["uuid"],
                        agreement=agreement,
                        revision=revisions[link["revision"]],
                        content_hash=link["content_hash"],
                        partners=canonical_json(link["partners"]),
                        created_at=created,
                        chain_seq=position,
                        chain_hash=link["hash"],
                    )
                else:
                    revision = revisions[link["revision"]]
                    row = Consent.create(
                        uuid=link["uuid"],
                        agreement=agreement,
                        revision=revision,
                        user=users[link["user"]],
                        decision=link["decision"],
                        note=link["note"],
                        content_hash=link["content_hash"],
                        seq=link["seq"],
                        created_at=created,
                        chain_seq=position,
                        chain_hash=link["hash"],
                    )
                    if row.is_news:
                        Activity.create(ledger=ledger, created_at=created, consent=row)
        for pause in export["pauses"]:
            PauseLog.create(
                ledger=ledger,
                user=users[pause["noted_by"]],
                agreement=agreement_ids.get(pause["signal"]),
                started_at=_parse_time(pause["started_at"]),
                resumed_at=_parse_time(pause["resumed_at"]),
                created_at=_parse_time(pause["noted_at"]),
            )
        for item in export["agenda"]:
            AgendaItem.create(
                ledger=ledger,
                author=users[item["parked_by"]],
                topic=item["topic"],
                note=item["note"],
                created_at=_parse_time(item["parked_at"]),
                discussed_at=_parse_time(item["discussed_at"]),
                discussed_by=users.get(item["discussed_by"]),
            )
        for review in export["reviews"]:
            _import_review(ledger, review, users, agreement_ids, revision_ids)
        refresh_ledger(ledger.id, utcnow())
    return ledger, placeholders


def _import_review(ledger, review, users, agreement_ids, revision_ids):
    """Recreate one exported review, its items and the answers it carries."""
    row = Review.create(
        ledger=ledger,
        started_by=users.get(review["started_by"]),
        started_at=_parse_time(review["started_at"]),
        scope=review["scope"],
        finished_at=_parse_time(review["finished_at"]),
    )
    for item in review["items"]:
        gathered = ReviewItem.create(
            review=row,
            agreement=agreement_ids[item["agreement"]],
            revision=revision_ids[item["revision"]],
            since=_parse_time(item["since"]),
            due_on=item["due_on"],
            position=item["position"],
            outcome=item["outcome"],
            settled_at=_parse_time(item["settled_at"]),
            retirement=revision_ids.get(item["retirement"]),
            parked_at=_parse_time(item["parked_at"]),
            parked_by=users.get(item["parked_by"]),
        )
        for given in item["answers"]:
            ReviewAnswer.create(
                item=gathered,
                user=users[given["person"]],
                choice=given["choice"],
                note=given["note"],
                created_at=_parse_time(given["answered_at"]),
            )
