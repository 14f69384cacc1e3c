"""Admin pages for what the portal publishes and mails: the resource catalog and the digest editions.

Both are for the admin role only. Every change goes through the domain's own
services (portal.resources.curation, portal.digests.service), which check and
write; these views turn their answers into pages, add the audit row and commit.
The routes live on the admin blueprint, so its login check covers them.
"""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.admin.audit import record_action
from portal.admin.auth import admin_only
from portal.admin.forms import FREQUENCY_CHOICES, DigestPreviewForm, DigestRunForm, ResourceForm
from portal.admin.views import _events, bp
from portal.celery_app import enqueue_after_commit
from portal.deliverability import service as deliverability
from portal.digests import service as digest_service
from portal.digests.errors import UnknownSubscriber
from portal.digests.models import DigestEdition
from portal.digests.tasks import compose_digest_batch
from portal.extensions import db
from portal.forms import ButtonForm
from portal.mail.validation import address_key
from portal.newsletter.models import Subscriber
from portal.resources import curation
from portal.resources.models import Resource
from portal.resources.service import kind_label, list_kinds, list_topics

# --- Resources ------------------------------------------------------------------------------

#: The list's filter (?show=): what each shows.
RESOURCE_FILTERS = {
    "all": ("All entries", None),
    # The same test as Resource.link_broken, in SQL.
    "broken": ("Broken links", Resource.link_checked_at.is_not(None)
               & or_(Resource.link_status.is_(None), Resource.link_status >= 400)),
    "retired": ("Retired", Resource.retired_at.is_not(None)),
}
#: Row buttons: the action's name, the curation service it calls, and what the flash says it did.
RESOURCE_ACTIONS = {
    "feature": (lambda resource_id: curation.set_featured(resource_id, True), "is featured"),
    "unfeature": (lambda resource_id: curation.set_featured(resource_id, False), "is no longer featured"),
    "retire": (curation.retire, "is retired: it has left the public page and the digests"),
    "restore": (curation.restore, "is back in the catalog"),
}
#: Problems the catalog reports as "<field> is ..." read as a sentence after the field's name.
_PREDICATES = ("is", "must", "contains")


def _shown_filter() -> str:
    show = request.values.get("show", "all")
    return show if show in RESOURCE_FILTERS else "all"


@bp.get("/resources")
@admin_only
def resources():
    show = _shown_filter()
    counts = {}
    for key, (_, condition) in RESOURCE_FILTERS.items():
        query = select(func.count()).select_from(Resource)
        counts[key] = db.session.scalar(query.where(condition) if condition is not None else query)
    query = select(Resource).order_by(Resource.position, Resource.id)
    condition = RESOURCE_FILTERS[show][1]
    if condition is not None:
        query = query.where(condition)
    return render_template(
        "admin/resources.html", resources=list(db.session.scalars(query)), show=show, counts=counts,
        filters=[(key, label) for key, (label, _) in RESOURCE_FILTERS.items()], kind_label=kind_label,
        events=_events(), event=None,
    )


def _resource(resource_id: int) -> Resource:
    resource = db.session.get(Resource, resource_id)
    if resource is None:
        abort(404)
    return resource


def _entry_values(resource: Resource) -> dict:
    """What the form shows for an entry, and what its audit row compares."""
    return {"slug": resource.slug, "title": resource.title, "organization": resource.organization or "",
            "kind": resource.kind, "year": "" if resource.year is None else str(resource.year),
            "url": resource.url or "", "summary": resource.summary,
            "topics": [topic.slug for topic in resource.topics], "featured": resource.featured}


@bp.route("/resources/new", methods=["GET", "POST"])
@admin_only
def new_resource():
    return _resource_form(None)


@bp.route("/resources/<int:resource_id>/edit", methods=["GET", "POST"])
@admin_only
def edit_resource(resource_id: int):
    return _resource_form(_resource(resource_id))


def _resource_form(resource: Resource | None):
    """Add (resource None) or edit one entry; the catalog's checks decide, nothing is written unless all pass."""
    topics = list_topics()
    before = _entry_values(resource) if resource is not None else None
    if request.method == "GET":
        form = ResourceForm(formdata=None, data=before or {}).fill_choices(topics)
    else:
        form = ResourceForm().fill_choices(topics)
    if resource is not None:
        # The slug is the entry's stable key (links and anchors use it): shown, never changed.
        form.slug.data = resource.slug
        form.slug.render_kw = {"readonly": True}
    if form.validate_on_submit():
        saved = _save_resource(form, resource)
        if saved is not None:
            after = _entry_values(saved)
            if resource is None:
                record_action(current_user, "resource_add", saved.slug, {"title": saved.title})
                flash(f"“{saved.title}” is in the catalog.", "success")
            elif changed := [name for name in after if after[name] != before[name]]:
                record_action(current_user, "resource_edit", saved.slug, {"fields": changed})
                flash(f"“{saved.title}”: saved.", "success")
            else:
                db.session.rollback()  # not even the entry's "updated" time moves
                flash("Nothing was changed.", "info")
            db.session.commit()
            return redirect(url_for(".resources"), code=303)
    return render_template("admin/resource_edit.html", form=form, resource=resource, kinds=list_kinds(),
                           events=_events(), event=None), 400 if form.errors else 200


def _save_resource(form: ResourceForm, resource: Resource | None) -> Resource | None:
    """The saved entry, or None with the catalog's problems on the form's fields (and nothing written)."""
    entry = form.entry()
    if resource is None and db.session.scalar(select(Resource.id).where(Resource.slug == entry["slug"])):
        # Saving would overwrite that entry: refuse, and still report whatever else is wrong.
        _, problems = curation.parse_entry(entry, {choice.value for choice in form.topics.choices}, "entry")
        _put_problems_on_fields(form, problems)
        form.slug.errors = ["Another entry has this slug already: edit that entry, or choose another slug."]
        return None
    try:
        return curation.add_or_edit_resource(entry)
    except curation.CatalogChangeRefused as exc:
        db.session.rollback()
        _put_problems_on_fields(form, exc.problems)
        return None


def _put_problems_on_fields(form: ResourceForm, problems: list[str]) -> None:
    """Each problem ("entry: <field>: <message>") goes next to its field, as a sentence."""
    for problem in problems:
        _, _, rest = problem.partition(": ")
        name, _, message = rest.partition(": ")
        field = form._fields.get(name) if name in ResourceForm.ENTRY_FIELDS else None
        if field is None:  # not one of the form's fields: show it with the title, never lose it
            field, message = form.title, problem
        if message.split(" ", 1)[0] in _PREDICATES:
            sentence = f"{field.label.text} {message}."
        else:
            sentence = f"{message[:1].upper()}{message[1:]}."
        field.errors = [*field.errors, sentence]


@bp.post("/resources/<int:resource_id>")
@admin_only
def change_resource(resource_id: int):
    resource = _resource(resource_id)
    action = request.form.get("action", "")
    if not ButtonForm().validate_on_submit() or action not in RESOURCE_ACTIONS:
        abort(400)
    change, done = RESOURCE_ACTIONS[action]
    change(resource.id)
    record_action(current_user, f"resource_{action}", resource.slug,
                  {"featured": resource.featured, "retired": resource.retired_at is not None})
    db.session.commit()
    flash(f"“{resource.title}” {done}.", "success")
    return redirect(url_for(".resources", show=_shown_filter()), code=303)


# --- Digests --------------------------------------------------------------------------------

#: Editions listed, newest first.
EDITION_PAGE_ROWS = 100
_PERIOD_NAMES = {"weekly": "week", "monthly": "month"}


@bp.get("/digests")
@admin_only
def digests():
    return _digests_page()


def _digests_page(dry_run=None, preview_form: DigestPreviewForm | None = None, preview=None,
                  previewed: bool = False, subscriber: Subscriber | None = None, status: int = 200):
    """The page: buttons per frequency, the preview form and the editions (their counts refreshed first)."""
    for edition_id in digest_service.editions_in_progress():
        digest_service.refresh_edition(edition_id)
    db.session.commit()
    editions = list(db.session.scalars(
        select(DigestEdition).order_by(DigestEdition.created_at.desc(), DigestEdition.id.desc())
        .limit(EDITION_PAGE_ROWS)
    ))
    existing = None
    if dry_run is not None:
        existing = db.session.scalar(select(DigestEdition).where(
            DigestEdition.frequency == dry_run.frequency, DigestEdition.period_start == dry_run.period_start))
    return render_template(
        "admin/digests.html", editions=editions, limit=EDITION_PAGE_ROWS, frequencies=FREQUENCY_CHOICES,
        dry_run=dry_run, dry_run_edition=existing, preview_form=preview_form or DigestPreviewForm(formdata=None),
        preview=preview, previewed=previewed, subscriber=subscriber,
        # Why a subscriber gets no digest (bounced, suppressed) is what an admin looks them up for.
        mail_state=deliverability.address_state(subscriber.email) if subscriber is not None and not subscriber.erased_at
        else None,
        events=_events(), event=None,
    ), status


def _chosen_frequency() -> str:
    """The frequency of a Count now or Send now button; anything else is a tampered form."""
    form = DigestRunForm()
    if not form.validate_on_submit():
        abort(400)
    return form.frequency.data


@bp.post("/digests/count")
@admin_only
def count_digests():
    """Dry run: who would get this period's digest now, and how many highlights each. Writes nothing."""
    return _digests_page(dry_run=digest_service.dry_run(_chosen_frequency()))


@bp.post("/digests/send")
@admin_only
def send_digests():
    """Start this period's edition now, as beat would; a period that has its edition keeps it."""
    frequency = _chosen_frequency()
    edition, created = digest_service.start_edition(frequency)
    if created:
        enqueue_after_commit(compose_digest_batch, edition.id)
    record_action(current_user, "digest_start", edition.title, {"edition": edition.id, "created": created})
    db.session.commit()
    if created:
        flash(f"{edition.title}: started. The worker composes it batch by batch and the outbox sends it; "
              "the counts below follow.", "success")
    else:
        flash(f"This {_PERIOD_NAMES[frequency]}'s edition already exists (status {edition.status}): "
              "nothing new was started.", "info")
    return redirect(url_for(".digests"), code=303)


@bp.post("/digests/preview")
@admin_only
def preview_digest():
    """One subscriber's next digest, as it would read now; nothing is queued, the look-up is audited."""
    form = DigestPreviewForm()
    if not form.validate_on_submit():
        return _digests_page(preview_form=form, status=400)
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == address_key(form.email.data)))
    # Looking a person up is itself audited, found or not; _digests_page commits the row.
    # The typed address is not kept: an address that matches nobody is no one's business here.
    found = subscriber is not None and subscriber.is_confirmed
    record_action(current_user, "digest_preview", f"subscriber {subscriber.id}" if subscriber else "",
                  {"found": found})
    try:
        if not found:
            raise UnknownSubscriber(form.email.data)
        preview = digest_service.preview_digest(subscriber.id)
    except UnknownSubscriber:
        form.email.errors = ["No confirmed subscriber has this address."]
        return _digests_page(preview_form=form, subscriber=subscriber, status=400)
    return _digests_page(preview_form=form, preview=preview, previewed=True, subscriber=subscriber)
