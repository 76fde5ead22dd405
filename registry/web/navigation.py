"""What each organisation kind can do on the pages: its home page's tasks and its menu."""

from __future__ import annotations

from dataclasses import dataclass

from registry.web.i18n import lazy_gettext as _l


@dataclass(frozen=True)
class Task:
    endpoint: str
    title: object
    description: object
    args: tuple = ()

    @property
    def url_args(self) -> dict:
        return dict(self.args)


SCAN = Task("pages.scan", _l("Check a code"), _l("Scan any label: genuine or not, state, recall and theft warnings."))
TRACE = Task("investigator.trace", _l("Trace"), _l("From any code, plate or identifier to the whole chain, with flags."))
RECEIVE = Task("stock.receive", _l("Receive stock"), _l("Scan what was shipped to you and record the inspection."))
THEFT = Task("investigator.stolen", _l("Stolen or recovered"), _l("Report a vehicle, battery or charger stolen, or recovered."))
SHIP = Task("stock.ship", _l("Ship"), _l("Hand items you hold over to another organisation."))

TASKS: dict[str, list[Task]] = {
    "manufacturer": [SHIP, SCAN],
    "dealer": [
        Task("dealer.sale", _l("Sell a set"), _l("Scan the vehicle, battery and charger, check the sale and record it with the buyer.")),
        RECEIVE, SHIP, SCAN,
    ],
    "registration_point": [
        Task("registration.register", _l("Register"), _l("Register a sold vehicle with its battery, charger, owner and plate.")),
        Task("registration.transfer", _l("Transfer"), _l("Transfer a registered vehicle to a new owner.")),
        Task("registration.deregister", _l("Deregister"), _l("Deregister a vehicle and free its plate.")),
        Task("registration.backfill", _l("Backfill"), _l("Code a vehicle already on the road, with its battery, charger, owner and plate.")),
        Task("registration.transfer_in", _l("Arrival from another region"), _l("Register a vehicle that moved here from another region, proven by that region's log.")),
        THEFT,
        SCAN,
    ],
    "repair_shop": [
        Task("workshop.swap", _l("Swap battery"), _l("Scan the vehicle, the old battery and the new one."), (("part", "battery"),)),
        Task("workshop.swap", _l("Replace charger"), _l("Scan the vehicle, the old charger and the new one."), (("part", "charger"),)),
        Task("workshop.repair", _l("Repair record"), _l("Record the work done on a vehicle.")),
        RECEIVE, SHIP, SCAN,
    ],
    "recycler": [
        Task("recycler.intake", _l("Take in and recycle"), _l("Receive, retire and recycle parts by scanning; today's list.")),
        SCAN,
    ],
    "investigator": [
        Task("investigator.incident", _l("Report an incident"), _l("Record a fire, explosion or accident and the codes found at the scene.")),
        TRACE,
        THEFT,
        SCAN,
    ],
    "regulator": [
        Task("regulator.dashboard", _l("Dashboard"), _l("Incidents by brand and model, clarity rate, recalls, overdue batteries, registrations.")),
        Task("regulator.recall", _l("Open a recall"), _l("Recall a model, a batch, a production period or a certificate.")),
        Task("regulator.certificate", _l("Certificate status"), _l("Suspend, revoke or restore a CCC certificate.")),
        TRACE,
        SCAN,
    ],
    "admin": [SCAN],
}
TASKS["swap_operator"] = TASKS["repair_shop"]


def tasks_for(kind: str) -> list[Task]:
    return TASKS.get(kind, [SCAN])
