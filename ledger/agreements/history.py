"""An agreement's history, page by page, and the comparison of two revisions."""

import json
import math

from flask import abort, render_template
from flask_login import login_required
from playhouse.flask_utils import PaginatedQuery

from .. import diff
from ..access import agreement_for
from ..db import utcnow
from ..forms.agreements import field_labels
from ..models import Revision
from ..models.agreements import REVISION_LISTED, Reaffirmation, StoredState
from ..security import int_arg
from .blueprint import bp, load_one, me, names, readable


class RevisionPages(PaginatedQuery):
    """An agreement's revisions, newest first, ten a page. Revisions are
    numbered 1, 2, 3… without a gap, so the stored latest number says how
    many there are and which numbers a page holds: no page counts or skips
    through the history, however long."""

    def __init__(self, agreement, latest, page):
        self.latest = latest
        query = Revision.select(*REVISION_LISTED).where(Revision.agreement == agreement)
        super().__init__(query.order_by(Revision.number.desc()), 10, page=page, check_bounds=True)

    def get_page_count(self):
        return max(1, math.ceil(self.latest / self.paginate_by))

    def get_object_list(self):
        if self.get_page() > self.get_page_count():
            abort(404)
        newest = self.latest - (self.get_page() - 1) * self.paginate_by
        return self.query.where(Revision.number.between(newest - self.paginate_by + 1, newest))


@bp.get("/agreements/<id:agreement_id>/history")
@login_required
def history(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    state, memberships = load_one(agreement)
    stored = state.stored
    pages = RevisionPages(agreement, stored.latest_number, int_arg("page", default=1))
    entries = stored.history_states(agreement, pages.get_object_list(), memberships, utcnow())
    # The reviews that kept it, dated, on the first page (a few a year).
    kept = list(Reaffirmation.of(agreement.id).limit(50)) if pages.get_page() == 1 else []
    numbers = (
        dict(
            Revision.select(Revision.id, Revision.number)
            .where(Revision.id.in_({row.revision_id for row in kept}))
            .tuples()
        )
        if kept
        else {}
    )
    return render_template(
        "agreements/history.html",
        ledger=agreement.ledger,
        agreement=agreement,
        state=state,
        entries=entries,
        pages=pages,
        names=names(memberships),
        kept=kept,
        numbers=numbers,
        kept_names={str(m.user.uuid): names(memberships)[m.user_id] for m in memberships},
    )


@bp.get("/agreements/<id:agreement_id>/diff")
@login_required
def compare(ledger_id, agreement_id):
    agreement = agreement_for(me(), ledger_id, agreement_id)
    latest = StoredState.row(agreement.id).latest_number
    old = int_arg("from", default=max(1, latest - 1))
    new = int_arg("to", default=latest)
    contents = agreement.revision_contents(old, new)  # exactly the two compared
    if old not in contents or new not in contents:
        abort(404)
    changes = diff.fields(
        field_labels(agreement.kind),
        readable(json.loads(contents[old])),
        readable(json.loads(contents[new])),
    )
    return render_template(
        "agreements/diff.html",
        ledger=agreement.ledger,
        agreement=agreement,
        changes=changes,
        old=old,
        new=new,
        latest=latest,
    )
