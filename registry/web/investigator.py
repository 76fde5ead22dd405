"""The fire scene and the case file: report an incident, trace any code to its whole chain, download the evidence."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for

from registry.api.context import registry
from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.domain.lifecycle import crosses_regions
from registry.services import orgs, photos, search, trace as tracing
from registry.store.models import Organisation
from registry.web import forms
from registry.web.auth import current_actor, current_user, login_required, web_blueprint
from registry.web.i18n import CST, page_lang
from registry.web.i18n import gettext as _
from registry.web.i18n import lazy_gettext as _l
from registry.web.words import (
    CERTIFICATE_STATUSES,
    DEREGISTER_REASONS,
    EVENTS,
    INCIDENT_STATES,
    INCIDENT_TYPES,
    INSPECTION,
    ITEM_KINDS,
    ORG_KINDS,
    RECYCLE_METHODS,
    RETIRE_REASONS,
    STANDARDS,
    STATES,
)

bp = web_blueprint("investigator", __name__)

#: Who may trace on these pages (the API lets other roles trace their own records).
TRACERS = ("investigator", "regulator")

ROLES = {
    "maker": _l("Maker"), "logistics": _l("Logistics"), "seller": _l("Seller"), "registration": _l("Registration"),
    "repairer": _l("Repair"), "installer": _l("Installed a part"), "inspector": _l("Inspection"),
    "assessor": _l("Assessment"), "recall": _l("Recall"), "regulator": _l("Regulation"),
    "investigator": _l("Investigation"), "recycler": _l("Recycling"), "correction": _l("Correction"),
}
MODIFICATIONS = {
    "speed_limiter_removed": _l("Speed limiter removed"), "battery_enlarged": _l("Larger battery fitted"),
    "motor_replaced": _l("Motor replaced"), "frame_altered": _l("Frame altered"), "lighting_altered": _l("Lighting altered"),
    "other": _l("Other"),
}


# --- incidents ------------------------------------------------------------------------------


def _incident_body() -> dict:
    body = forms.values("vehicle", "battery", "charger", "incident_type", "region", "address", "state", "case_number")
    moment = (request.form.get("occurred_at") or "").strip()
    if moment:
        # a datetime-local field has no offset: it is the scene's local time (China Standard Time)
        try:
            body["occurred_at"] = datetime.fromisoformat(moment).replace(tzinfo=CST).isoformat()
        except ValueError:
            body["occurred_at"] = moment
    casualties = {}
    for key in ("dead", "injured"):
        raw = (request.form.get(key) or "0").strip() or "0"
        casualties[key] = int(raw) if raw.isdigit() else raw
    body["casualties"] = casualties
    lines = (request.form.get("scene_identifiers") or "").replace("，", "\n").replace(",", "\n").splitlines()
    body["scene_identifiers"] = [s.strip() for s in lines if s.strip()]
    return body


def _store_photos() -> list[str]:
    hashes = []
    for upload in request.files.getlist("photos"):
        if upload and upload.filename:
            digest, _size, _new = photos.store(registry(), upload.read())
            hashes.append(digest)
    return hashes


@bp.route("/incident", methods=["GET", "POST"])
@login_required(("investigator",))
def incident():
    """Report a fire, explosion or accident with the items and labels found at the scene."""
    refused = None
    if request.method == "POST":
        body = _incident_body()
        try:
            body["photos"] = _store_photos()
        except DomainError as err:
            refused = forms.refusal(err)
        if refused is None:
            appended, refused = forms.attempt("report_incident", body)
        if refused is None:
            flash(_("Incident recorded (log entry %(index)s).", index=appended.index), "ok")
            first = next((body[k] for k in ("battery", "vehicle", "charger") if body.get(k)), None)
            if first:
                return redirect(url_for(".trace", q=first))
            return redirect(url_for(".incident"))
    with registry().reading() as uow:
        org = uow.session.get(Organisation, current_actor().org_id)
    defaults = {"region": org.region if org else "", "occurred_at": datetime.now(CST).strftime("%Y-%m-%dT%H:%M"),
                "incident_type": "fire", "state": "charging"}
    form = {**defaults, **request.form.to_dict()}
    return render_template("incident.html", refused=refused, form=form, TYPES=INCIDENT_TYPES, STATES=INCIDENT_STATES)


# --- theft ----------------------------------------------------------------------------------

THEFT = {"report_stolen": _l("Reported stolen"), "report_recovered": _l("Reported recovered")}


@bp.route("/stolen", methods=["GET", "POST"])
@login_required(("registration_point", "investigator"))
def stolen():
    """Report items stolen (every later scan warns) or recovered."""
    action = request.values.get("action", "report_stolen")
    if action not in THEFT:
        action = "report_stolen"
    refused = None
    if request.method == "POST":
        body = forms.values("vehicle", "battery", "charger", "case_number")
        appended, refused = forms.attempt(action, body)
        if refused is None:
            names = [f"{ITEM_KINDS[k]} {forms.named(appended, k)}" for k in ("vehicle", "battery", "charger") if forms.named(appended, k)]
            flash(_("%(step)s: %(items)s", step=THEFT[action], items=", ".join(names)), "ok")
            return redirect(url_for(".stolen", action=action))
    return render_template("stolen.html", action=action, refused=refused, form=request.form, ACTIONS=THEFT)


# --- trace ----------------------------------------------------------------------------------


def _people(result: dict) -> dict:
    return {p["pseudonym"]: p for p in result.get("owners", []) if p}


def _person_line(person: dict | None) -> str:
    if not person:
        return ""
    if person.get("erased"):
        return _("(erased at the person's request)")
    parts = [person.get("name"), person.get("id_number"), person.get("phone")]
    return " · ".join(p for p in parts if p)


def event_details(entry: dict, result: dict, org_names: dict) -> list[tuple[str, str]]:
    """Return what a timeline entry says, as (label, value) lines in the page's language."""
    d = entry.get("data") or {}
    people = _people(result)
    out: list[tuple[str, str]] = []

    def item(subject):
        if not subject:
            return ""
        kind, _s, ident = subject.partition(":")
        return f"{ITEM_KINDS.get(kind, kind)} {ident}"

    def owner(ref):
        if isinstance(ref, str) and ref.startswith("owner:"):
            return _person_line(people.get(ref.split(":", 1)[1])) or _("(not shown)")
        return ""

    k = entry["kind"]
    if k == "ship" and d.get("to"):
        out.append((_("To"), org_names.get(d["to"], d["to"])))
    elif k == "receive" and d.get("inspection"):
        out.append((_("Inspection"), str(INSPECTION.get(d["inspection"], d["inspection"]))))
    elif k == "sell":
        if d.get("buyer"):
            out.append((_("Buyer"), owner(d["buyer"])))
        if d.get("buyer_org"):
            out.append((_("Buyer"), org_names.get(d["buyer_org"], d["buyer_org"])))
    elif k in ("register", "backfill", "transfer_in"):
        out.append((_("Plate"), d.get("plate") or ""))
        out.append((_("Owner"), owner(d.get("owner"))))
        if k == "transfer_in" and d.get("from"):
            out.append((_("Came from"), f"{d['from']['origin']} #{d['from']['index']}"))
    elif k == "transfer":
        out.append((_("New owner"), owner(d.get("to"))))
    elif k == "deregister":
        out.append((_("Reason"), str(DEREGISTER_REASONS.get(d.get("reason"), d.get("reason") or ""))))
        if d.get("to_origin"):
            out.append((_("Left for"), d["to_origin"]))
    elif k in ("swap_battery", "replace_charger"):
        part = "battery" if k == "swap_battery" else "charger"
        if d.get(f"old_{part}"):
            out.append((_("Taken out"), item(d[f"old_{part}"])))
        out.append((_("Put in"), item(d.get(f"new_{part}"))))
    elif k == "repair":
        out.append((_("Work done"), d.get("work") or ""))
    elif k == "report_modification":
        out.append((_("Modification"), str(MODIFICATIONS.get(d.get("modification"), d.get("modification") or ""))))
    elif k == "assess_battery":
        out.append((_("Result"), str(INSPECTION.get(d.get("result"), d.get("result") or ""))))
        if d.get("capacity_pct") is not None:
            out.append((_("Capacity"), f"{d['capacity_pct']}%"))
    elif k in ("recall", "recall_remedy", "certificate_status", "list_change"):
        if d.get("status"):
            out.append((_("Status"), str(CERTIFICATE_STATUSES.get(d["status"], d["status"]))))
        if d.get("reason"):
            out.append((_("Reason"), d["reason"]))
    elif k == "report_incident":
        out.append((_("Type"), str(INCIDENT_TYPES.get(d.get("incident_type"), d.get("incident_type") or ""))))
        out.append((_("When it started"), str(INCIDENT_STATES.get(d.get("state"), d.get("state") or ""))))
        out.append((_("Place"), f"{d.get('region') or ''} {d.get('address') or ''}".strip()))
        cas = d.get("casualties") or {}
        out.append((_("Casualties"), _("%(dead)s dead, %(injured)s injured", dead=cas.get("dead", 0), injured=cas.get("injured", 0))))
        out.append((_("Case number"), d.get("case_number") or ""))
        if d.get("escalated"):
            out.append((_("Escalated"), _("Fatal: escalated investigation")))
        if d.get("scene_identifiers"):
            out.append((_("Found at the scene"), ", ".join(d["scene_identifiers"])))
    elif k == "retire":
        out.append((_("Reason"), str(RETIRE_REASONS.get(d.get("reason"), d.get("reason") or ""))))
    elif k == "recycle":
        out.append((_("Method"), str(RECYCLE_METHODS.get(d.get("method"), d.get("method") or ""))))
    elif k in ("report_stolen", "report_recovered") and d.get("case_number"):
        out.append((_("Case number"), d["case_number"]))
    return [(label, value) for label, value in out if value]


def _run_trace(q: str, case_number: str | None) -> dict:
    actor = current_actor()
    reveal = actor.org_kind == "investigator" and bool(case_number)
    reg = registry()
    # a trace that reveals personal data records each reveal: it runs in a writing unit of work
    with (reg.writing() if reveal else reg.reading()) as uow:
        return tracing.trace(uow, actor, q, case_number, lang=page_lang())


@bp.get("/trace")
@login_required(TRACERS)
def trace():
    """Trace any code, plate or identifier: the set, a timeline with its flags, the responsible parties."""
    q = (request.args.get("q") or "").strip()
    case_number = (request.args.get("case_number") or "").strip() or None
    result, refused, candidates = None, None, []
    if q:
        try:
            result = _run_trace(q, case_number)
        except (DomainError, InvalidIdentifier) as err:
            refused = forms.refusal(err, _("Nothing to trace"))
            if getattr(err, "code", None) in ("item_not_found", "identifier_unrecognised", "identifier_ambiguous"):
                with registry().reading() as uow:
                    try:
                        candidates = search.search(uow, q, 10)["candidates"]
                    except (DomainError, InvalidIdentifier):
                        candidates = []
    org_names, flagged = {}, {}
    if result is not None:
        with registry().reading() as uow:
            org_names = {o.id: o.name for o in orgs.list_organisations(uow)}
        for f in result["flags"]:
            flagged.setdefault(f["index"], []).append(f)
    return render_template(
        "trace.html", q=q, case_number=case_number or "", result=result, refused=refused, candidates=candidates,
        flagged=flagged, org_names=org_names, details=event_details, EVENTS=EVENTS, ITEM_KINDS=ITEM_KINDS,
        STATES=STATES, STANDARDS=STANDARDS, ROLES=ROLES, ORG_KINDS=ORG_KINDS, CERTIFICATE_STATUSES=CERTIFICATE_STATUSES,
        INCIDENT_TYPES=INCIDENT_TYPES, may_bundle=current_user().org_kind == "investigator", person_line=_person_line,
        moved=result is not None and registry().peers is not None and any(
            crosses_regions(e["kind"], e.get("data")) for e in result["timeline"]),
    )


@bp.get("/trace/regions")
@login_required(TRACERS)
def trace_regions():
    """Trace an item through every regional log it passed through, each move between logs proven again."""
    from registry.services import across

    q = (request.args.get("q") or "").strip()
    answer, refused = None, None
    if q:
        try:
            answer = across.trace_across(registry(), current_actor(), q, lang=page_lang())
        except (DomainError, InvalidIdentifier) as err:
            refused = forms.refusal(err, _("Nothing to trace"))
    names = {}
    if answer is not None:
        names = {r.origin: r.name for r in registry().peers.directory.regions}
        for part in answer["regions"]:
            part["org_names"] = {i: o["name"] for i, o in part["trace"]["organisations"].items()}
    return render_template("trace_regions.html", q=q, answer=answer, refused=refused, names=names,
                           knows_regions=registry().peers is not None, details=event_details, EVENTS=EVENTS,
                           ITEM_KINDS=ITEM_KINDS, ORG_KINDS=ORG_KINDS)


@bp.get("/trace/bundle")
@login_required(("investigator",))
def bundle():
    """Download the evidence bundle (zip: bundle.json with proofs, report.pdf), verifiable offline."""
    q = (request.args.get("q") or "").strip()
    case_number = (request.args.get("case_number") or "").strip()
    if not q or not case_number:
        flash(_("Give the case number to download the evidence bundle."), "err")
        return redirect(url_for(".trace", q=q))
    try:
        from registry.services import bundle as bundles
    except ImportError:  # the evidence bundle is not part of this build
        abort(404)
    data, filename = bundles.make_bundle(registry(), current_actor(), q, case_number)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
