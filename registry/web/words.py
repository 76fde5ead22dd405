"""The pages' names for the domain's codes (kinds, states, events, choices), translated with the page."""

from __future__ import annotations

from registry.web.i18n import gettext as _
from registry.web.i18n import lazy_gettext as _l

ITEM_KINDS = {"vehicle": _l("E-bike"), "battery": _l("Battery"), "charger": _l("Charger"), "plate": _l("Plate")}
#: For tables and timelines, where space is short.
SHORT_KINDS = {"vehicle": _l("Vehicle"), "battery": _l("Battery"), "charger": _l("Charger"), "plate": _l("Plate")}

STATES = {
    "commissioned": _l("Coded at the factory"),
    "shipped": _l("In transit"),
    "in_stock": _l("In stock"),
    "sold": _l("Sold"),
    "registered": _l("Registered"),
    "installed": _l("Installed"),
    "removed": _l("Removed"),
    "retired": _l("Retired"),
    "recycled": _l("Recycled"),
    "deregistered": _l("Deregistered"),
    "scrapped": _l("Scrapped"),
}

STANDARDS = {
    "GB17761-2024": _l("meets GB 17761-2024"),
    "GB17761-2018": _l("meets GB 17761-2018"),
    "non_standard": _l("non-standard (transition period model)"),
}

ORG_KINDS = {
    "manufacturer": _l("Manufacturer"),
    "dealer": _l("Dealer"),
    "registration_point": _l("Registration point"),
    "repair_shop": _l("Repair shop"),
    "swap_operator": _l("Battery swap operator"),
    "recycler": _l("Recycler"),
    "investigator": _l("Investigator"),
    "regulator": _l("Regulator"),
    "admin": _l("Administrator"),
}

EVENTS = {
    "register_organisation": _l("Organisation registration"),
    "certificate": _l("CCC certificate record"),
    "model": _l("Model record"),
    "commission": _l("Coding at the factory"),
    "ship": _l("Shipment"),
    "receive": _l("Receipt and inspection"),
    "sell": _l("Sale"),
    "register": _l("Registration with plate"),
    "transfer": _l("Transfer of ownership"),
    "deregister": _l("Deregistration"),
    "backfill": _l("Backfill registration"),
    "transfer_in": _l("Registration on arrival from another region"),
    "repair": _l("Repair"),
    "swap_battery": _l("Battery swap"),
    "replace_charger": _l("Charger replacement"),
    "report_modification": _l("Illegal modification report"),
    "assess_battery": _l("Battery health assessment"),
    "recall": _l("Recall"),
    "recall_remedy": _l("Recall remedy"),
    "certificate_status": _l("Certificate status change"),
    "list_change": _l("List change"),
    "report_stolen": _l("Theft report"),
    "report_recovered": _l("Recovery report"),
    "report_incident": _l("Incident report"),
    "retire": _l("Retirement"),
    "recycle": _l("Recycling"),
    "scrap": _l("Scrapping"),
    "correction": _l("Correction"),
}

INSPECTION = {"passed": _l("Passed"), "failed": _l("Failed")}
INCIDENT_TYPES = {"fire": _l("Fire"), "explosion": _l("Explosion"), "accident": _l("Accident")}
INCIDENT_STATES = {"charging": _l("Charging"), "parked": _l("Parked"), "riding": _l("Riding"), "unknown": _l("Unknown")}
DEREGISTER_REASONS = {"scrapped": _l("Scrapped"), "moved_away": _l("Moved away"), "lost": _l("Lost"), "other": _l("Other")}
RETIRE_REASONS = {
    "end_of_life": _l("End of life"), "damaged": _l("Damaged"), "failed_assessment": _l("Failed assessment"),
    "recalled": _l("Recalled"), "other": _l("Other"),
}
RECYCLE_METHODS = {
    "disassembly": _l("Disassembly"), "material_recovery": _l("Material recovery"),
    "repurposing": _l("Repurposing"), "destruction": _l("Destruction"),
}
ID_TYPES = {
    "resident_id": _l("Resident ID card"), "passport": _l("Passport"), "hk_macau_permit": _l("Hong Kong/Macao permit"),
    "taiwan_permit": _l("Taiwan permit"), "foreigner_permanent_id": _l("Foreigner's permanent residence ID"),
}
CERTIFICATE_STATUSES = {"valid": _l("Valid"), "suspended": _l("Suspended"), "revoked": _l("Revoked")}


def js_strings() -> dict:
    """Return the strings the scripts show (item card, camera), in the page's language."""
    return {
        "genuine": _("Genuine code of this registry"),
        "found": _("Found in the registry"),
        "forged": _("Forged or invalid"),
        "checking": _("Checking…"),
        "reason": _("Reason"),
        "kind": _("Kind"),
        "identifier": _("Identifier"),
        "model": _("Model"),
        "maker": _("Maker"),
        "state": _("State"),
        "produced": _("Production date"),
        "age": _("Battery age"),
        "days": _("%(n)s days", n="%(n)s"),
        "recalled": _("Under an open recall"),
        "stolen": _("Reported stolen"),
        "reused": _("Reused (-R) battery: not for e-bikes"),
        "backfilled": _("Coded on the road (backfill)"),
        "old_battery": _("Battery older than 5 years: needs a health assessment"),
        "wrong_kind": _("This is a %(got)s, not a %(want)s", got="%(got)s", want="%(want)s"),
        "network_error": _("Could not check the code (network)"),
        "camera_hint": _("Point the camera at the QR code"),
        "camera_close": _("Close"),
        "camera_none": _("No camera available: type or scan the code instead"),
        "kinds": {k: str(v) for k, v in ITEM_KINDS.items()},
        "states": {k: str(v) for k, v in STATES.items()},
    }
