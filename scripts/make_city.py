#!/usr/bin/env python3
"""Write a realistic city log straight through the services, in batches (issue "Performance and scale").

    .venv/bin/python scripts/make_city.py --events 100000 [--database-url URL] [--batch 5000] [--seed 1]

Makers commission vehicles, batteries and chargers (``commissioning.commission_items``);
everything else goes through ``lifecycle.record_event`` exactly as ``POST /events``
would after its schema: shipments to dealers and shops, receipts, sales with the
scan check, registrations with plates and owners (in the vault, never in the log),
transfers, repairs, battery health assessments, battery swaps at repair shops and
in the shared-battery fleets of swap operators (their batteries go round their
vehicles), charger replacements, thefts and recoveries, fires, recalls of a
battery batch with remedies and closing, deregistrations, scrapping, retiring
and recycling.

Each batch is one writing unit of work: ``uow.start_batch()`` … ``uow.finish()``,
so it takes the append lock once and signs one checkpoint. A refused step would
be a bug in this generator (the city keeps its own picture of every item's
state): it stops with the refusal.

Without --database-url the city goes into a fresh SQLite file
(``<REGISTRY_INSTANCE>/bench/city-<N>/registry.db``, replaced if it exists). A
PostgreSQL URL must name an empty database (it is migrated first).
stdout: one JSON line with the figures; stderr: a progress bar.

A city larger than one sitting (10^7 events take hours) is built with
``--resumable``: before each batch commits, the generator's picture of the city
is written beside the database (``city.state.new``, renamed ``city.state`` once
the batch has committed), so that ``--resume`` -- after a stop, a crash or a
reboot -- carries on from the last committed batch with exactly the picture
that matches it. Pickling the picture costs about a second per 10^6 bikes, so
give such a build large batches (``--batch 50000``). ``--snapshots 100000,1000000``
(SQLite) copies the database (``VACUUM INTO``) as ``registry-<N>.db`` when the
log reaches each size: the same city at smaller sizes, for
``scripts/bench.py --trace-city``.

    .venv/bin/python scripts/make_city.py --events 10000000 --batch 50000 --resumable --snapshots 100000,1000000
    .venv/bin/python scripts/make_city.py --events 10000000 --batch 50000 --resumable --snapshots 100000,1000000 --resume
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import random
import sqlite3
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from stdnum.cn import ric
from tqdm import tqdm

from registry.cli import upgrade
from registry.config import from_environment
from registry.domain.errors import DomainError
from registry.domain.roles import Actor
from registry.runtime import Registry
from registry.services import catalogue, commissioning, orgs
from registry.services.lifecycle import record_event

# --- the city's organisations and catalogue -------------------------------------------------

REGION = "330212"
DISTRICTS = ("330203", "330205", "330206", "330211", "330212", "330213")
#: kind -> how many of them
ORG_COUNTS = {
    "manufacturer": 0,  # the four below
    "dealer": 12,
    "registration_point": 6,
    "repair_shop": 12,
    "swap_operator": 2,
    "recycler": 3,
    "investigator": 2,
    "regulator": 1,
}
MAKERS = {
    # key: (name, credit code)
    "lvyuan": ("宁波绿源电动车有限公司", "91330206MA2H3K8L1X"),
    "qidian": ("台州骑电车业有限公司", "91331000MA2D4E5F6W"),
    "xingheng": ("浙江星恒电源股份有限公司", "91330500MA2B7C6D4Y"),
    "anchong": ("宁波安充电器科技有限公司", "91330203MA2C1D2E3Z"),
}
#: (maker, number, kind, model)
CERTIFICATES = [
    ("lvyuan", "2026011119000101", "vehicle", "LY-TDT2024"),
    ("qidian", "2026011119000245", "vehicle", "QD-Q5-2024"),
    ("xingheng", "2026010912000031", "battery", "XH-48V20"),
    ("xingheng", "2026010912000032", "battery", "XH-48V24"),
    ("anchong", "2026010907000011", "charger", "MA2C1D2E3-26-48"),
]
#: (maker, kind, model, certificate, specs, approved batteries, approved chargers)
MODELS = [
    ("xingheng", "battery", "XH-48V20", "2026010912000031", {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960}, [], []),
    ("xingheng", "battery", "XH-48V24", "2026010912000032", {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 24, "energy_wh": 1152}, [], []),
    ("anchong", "charger", "MA2C1D2E3-26-48", "2026010907000011", {"output_v": "54.6", "output_a": 3}, [], []),
    ("lvyuan", "vehicle", "LY-TDT2024", "2026011119000101", {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": "54.5"},
     ["XH-48V20", {"model": "XH-48V24", "approval": "mutual"}], ["MA2C1D2E3-26-48"]),
    ("qidian", "vehicle", "QD-Q5-2024", "2026011119000245", {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55},
     ["XH-48V20"], ["MA2C1D2E3-26-48"]),
]
PASSWORD = "city-pass-2026"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def person(n: int) -> dict:
    """The n-th resident of the city: a valid resident ID number and mobile phone."""
    born = datetime.date(1960, 1, 1) + datetime.timedelta(days=n % 16000)
    head = f"{DISTRICTS[n % len(DISTRICTS)]}{born:%Y%m%d}{n // 16000 % 1000:03d}"
    return {"name": f"居民{n}", "id_type": "resident_id", "id_number": head + ric.calc_check_digit(head + "0"),
            "phone": f"13{n % 10}{n % 100_000_000:08d}"}


def plate(n: int, prefix: str = "浙B") -> str:
    """The n-th plate: 浙B·A0001 … (24 letters × 6 characters of digits and letters)."""
    letter, rest = PLATE_LETTERS[n % 24], n // 24
    return f"{prefix}·{letter}{rest:05d}"


@dataclass
class Bike:
    """A vehicle on the road, as the city sees it."""

    vehicle: str
    battery: str | None
    charger: str
    owner: int | None = None  # resident number; None for a fleet bike
    operator: int | None = None  # index of its swap operator
    stolen: bool = False
    deregistered: bool = False


@dataclass
class City:
    """The generator's own picture of the city, so that every step it records is allowed."""

    registry: Registry
    rng: random.Random
    actors: dict[str, list[Actor]] = field(default_factory=dict)
    makers: dict[str, Actor] = field(default_factory=dict)
    serial: int = 0
    residents: int = 0
    plates: int = 0
    cases: int = 0
    batch_no: int = 0
    private: list[Bike] = field(default_factory=list)  # registered, in service
    fleets: list[list[Bike]] = field(default_factory=list)  # per swap operator
    pools: list[deque] = field(default_factory=list)  # per swap operator: batteries it holds
    stolen: list[Bike] = field(default_factory=list)
    deregistered: list[Bike] = field(default_factory=list)
    recalls: list[tuple[str, list[str]]] = field(default_factory=list)  # (recall id, batteries to remedy)
    recallable: deque = field(default_factory=deque)  # (batch name, [battery ids]) of earlier private sales
    counts: dict[str, int] = field(default_factory=dict)
    usernames: dict[str, list[str]] = field(default_factory=dict)  # kind -> usernames (password PASSWORD)
    #: The plates of this city's region (scripts/simulate_regions.py runs several cities).
    plate_prefix: str = "浙B"

    def __getstate__(self) -> dict:
        """The picture without the registry (``--resumable``): it is reopened on resume."""
        state = self.__dict__.copy()
        state["registry"] = None
        return state

    # -- set-up ----------------------------------------------------------------------

    def setup(self) -> None:
        """Register the organisations (one user each) and record the catalogue."""
        n = 0

        def add(kind: str, name: str, licence: str, region: str) -> Actor:
            nonlocal n
            n += 1
            with self.registry.writing() as uow:
                org, _ = orgs.register_organisation(uow, None, orgs.RegisterOrganisation(name, kind, licence, region))
            with self.registry.writing() as uow:
                user = orgs.add_user(uow, None, org.id, f"city-{kind}-{n:03d}", PASSWORD)
            self.usernames.setdefault(kind, []).append(user.username)
            return Actor(org.id, kind, user.id)

        for key, (name, licence) in MAKERS.items():
            self.makers[key] = add("manufacturer", name, licence, REGION)
        for kind, count in ORG_COUNTS.items():
            self.actors[kind] = [
                add(kind, f"{DISTRICTS[i % len(DISTRICTS)]} {kind} {i + 1}", f"{kind[:2].upper()}{i + 1:08d}", DISTRICTS[i % len(DISTRICTS)])
                for i in range(count)
            ]
        for maker, number, kind, model in CERTIFICATES:
            with self.registry.writing() as uow:
                catalogue.record_certificate(uow, self.makers[maker], catalogue.RecordCertificate(number, kind, model, "2026-01-05", "2036-01-04"))
        for maker, kind, model, cert, specs, batteries, chargers in MODELS:
            with self.registry.writing() as uow:
                catalogue.record_model(uow, self.makers[maker], catalogue.RecordModel(kind, model, specs, cert, batteries, chargers))
        self.fleets = [[] for _ in self.actors["swap_operator"]]
        self.pools = [deque() for _ in self.actors["swap_operator"]]

    # -- helpers ---------------------------------------------------------------------

    def pick(self, kind: str) -> Actor:
        return self.rng.choice(self.actors[kind])

    def event(self, uow, actor: Actor, kind: str, **data) -> None:
        try:
            record_event(uow, actor, kind, data)
        except DomainError as err:  # a bug of this generator: say exactly what was refused
            problems = "; ".join(f"{p.code} ({p.subject})" for p in err.problems)
            raise SystemExit(f"make_city: {kind} {data} refused: {err.code} {err.message_en} {problems} {err.errors}") from err
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def commission(self, uow, maker: str, kind: str, model: str, n: int, batch: str) -> list[str]:
        """Commission *n* new items of *model*; return their identifiers."""
        if n <= 0:
            return []
        today = datetime.date.today()
        items = []
        for _ in range(n):
            s = self.next_serial()
            ident = {
                "vehicle": f"{'1173' if maker == 'lvyuan' else '1288'}226{s:08d}",
                "battery": f"XHNB{model[3:]}{s:09d}".replace("-", ""),
                "charger": f"MA2C1D2E3-26-48-C{s:09d}",
            }[kind]
            produced = today - datetime.timedelta(days=self.rng.randrange(10, 120))
            items.append({"kind": kind, "identifier": ident, "model": model, "produced_on": produced.isoformat(), "batch": batch})
        done = commissioning.commission_items(uow, self.makers[maker], items)
        self.counts["commission"] = self.counts.get("commission", 0) + len(done)
        return [c.identifier for c in done]

    def deliver(self, uow, maker: str, kind: str, ident: str, to: Actor) -> None:
        """The maker ships one item to *to*, which receives it."""
        self.event(uow, self.makers[maker], "ship", **{kind: ident, "to": to.org_id})
        self.event(uow, to, "receive", **{kind: ident}, inspection="passed")

    # -- new bikes ---------------------------------------------------------------------

    def new_private_bikes(self, uow, n: int) -> None:
        """Commission, ship to a dealer, receive, sell with the scan check, register: 9 events a bike."""
        if n <= 0:
            return
        batch = f"C{self.batch_no:05d}"
        lv = self.rng.randint(0, n)
        vehicles = [(v, "lvyuan") for v in self.commission(uow, "lvyuan", "vehicle", "LY-TDT2024", lv, f"LY{batch}")]
        vehicles += [(v, "qidian") for v in self.commission(uow, "qidian", "vehicle", "QD-Q5-2024", n - lv, f"QD{batch}")]
        batteries = self.commission(uow, "xingheng", "battery", "XH-48V20", n, f"XH{batch}")
        chargers = self.commission(uow, "anchong", "charger", "MA2C1D2E3-26-48", n, f"AC{batch}")
        codes = {}
        for (vehicle, maker), battery, charger in zip(vehicles, batteries, chargers):
            dealer = self.pick("dealer")
            self.event(uow, self.makers[maker], "ship", vehicle=vehicle, to=dealer.org_id)
            self.event(uow, self.makers["xingheng"], "ship", battery=battery, to=dealer.org_id)
            self.event(uow, self.makers["anchong"], "ship", charger=charger, to=dealer.org_id)
            self.event(uow, dealer, "receive", vehicle=vehicle, battery=battery, charger=charger, inspection="passed")
            self.residents += 1
            owner = self.residents
            # the dealer scans the vehicle's code; the parts by their printed identifiers
            code = codes.get(vehicle) or self._code(uow, "vehicle", vehicle)
            self.event(uow, dealer, "sell", vehicle=code, battery=battery, charger=charger, buyer=person(owner))
            self.plates += 1
            self.event(uow, self.pick("registration_point"), "register", vehicle=vehicle, plate=plate(self.plates, self.plate_prefix), owner=person(owner))
            self.private.append(Bike(vehicle, battery, charger, owner=owner))
        self.recallable.append((f"XH{batch}", batteries))
        if len(self.recallable) > 50:
            self.recallable.popleft()

    def _code(self, uow, kind: str, ident: str) -> str:
        from registry.store.models import Item

        return uow.session.get(Item, f"{kind}:{ident}").code

    def new_fleet_bikes(self, uow, n: int) -> None:
        """A swap operator buys vehicles without batteries (车电分离) and stocks 1.5 batteries each."""
        if n <= 0:
            return
        k = self.rng.randrange(len(self.fleets))
        operator = self.actors["swap_operator"][k]
        batch = f"F{self.batch_no:05d}"
        vehicles = self.commission(uow, "lvyuan", "vehicle", "LY-TDT2024", n, f"LY{batch}")
        chargers = self.commission(uow, "anchong", "charger", "MA2C1D2E3-26-48", n, f"AC{batch}")
        batteries = self.commission(uow, "xingheng", "battery", "XH-48V20", n + n // 2 + 1, f"XH{batch}")
        dealer = self.pick("dealer")
        for vehicle, charger in zip(vehicles, chargers):
            self.event(uow, self.makers["lvyuan"], "ship", vehicle=vehicle, to=dealer.org_id)
            self.event(uow, self.makers["anchong"], "ship", charger=charger, to=dealer.org_id)
            self.event(uow, dealer, "receive", vehicle=vehicle, charger=charger, inspection="passed")
            self.event(uow, dealer, "sell", vehicle=vehicle, charger=charger, buyer_org=operator.org_id)
        for battery in batteries:
            self.deliver(uow, "xingheng", "battery", battery, operator)
            self.pools[k].append(battery)
        for vehicle, charger in zip(vehicles, chargers):
            battery = self.pools[k].popleft()
            self.event(uow, operator, "swap_battery", vehicle=vehicle, new_battery=battery)
            self.fleets[k].append(Bike(vehicle, battery, charger, operator=k))

    # -- life on the road ----------------------------------------------------------------

    def fleet_swap(self, uow) -> bool:
        """A rider swaps a flat battery for a charged one at the operator's cabinet."""
        k = self.rng.randrange(len(self.fleets))
        if not self.fleets[k] or not self.pools[k]:
            return False
        bike = self.rng.choice(self.fleets[k])
        new = self.pools[k].popleft()
        self.event(uow, self.actors["swap_operator"][k], "swap_battery", vehicle=bike.vehicle, old_battery=bike.battery, new_battery=new)
        self.pools[k].append(bike.battery)
        bike.battery = new
        return True

    def _on_road(self) -> int | None:
        """The position in ``private`` of a bike that is not reported stolen."""
        for _ in range(5):
            if not self.private:
                return None
            i = self.rng.randrange(len(self.private))
            if not self.private[i].stolen:
                return i
        return None

    def _retire(self, uow, kind: str, ident: str) -> None:
        recycler = self.pick("recycler")
        self.event(uow, recycler, "retire", **{kind: ident}, reason="end_of_life")
        self.event(uow, recycler, "recycle", **{kind: ident}, method="material_recovery")

    def life_event(self, uow) -> None:
        """One thing that happens to a private bike (or the city's regulators)."""
        roll = self.rng.random()
        at = self._on_road()
        if at is None:
            return
        bike = self.private[at]
        if roll < 0.25:
            self.event(uow, self.pick("repair_shop"), "repair", vehicle=bike.vehicle, work="更换刹车片")
        elif roll < 0.40:
            self.event(uow, self.pick("repair_shop"), "assess_battery", battery=bike.battery, result="passed",
                       capacity_pct=self.rng.randint(80, 99))
        elif roll < 0.55:
            # a worn battery is swapped at a repair shop for a new one; the old one is recycled
            shop = self.pick("repair_shop")
            model = "XH-48V20" if bike.vehicle.startswith("1288") else "XH-48V24"  # what the vehicle model approves
            new = self.commission(uow, "xingheng", "battery", model, 1, f"XHS{self.batch_no:05d}")[0]
            self.deliver(uow, "xingheng", "battery", new, shop)
            self.event(uow, shop, "swap_battery", vehicle=bike.vehicle, old_battery=bike.battery, new_battery=new)
            self._retire(uow, "battery", bike.battery)
            bike.battery = new
        elif roll < 0.62:
            shop = self.pick("repair_shop")
            new = self.commission(uow, "anchong", "charger", "MA2C1D2E3-26-48", 1, f"ACS{self.batch_no:05d}")[0]
            self.deliver(uow, "anchong", "charger", new, shop)
            self.event(uow, shop, "replace_charger", vehicle=bike.vehicle, old_charger=bike.charger, new_charger=new)
            self._retire(uow, "charger", bike.charger)
            bike.charger = new
        elif roll < 0.74:
            self.residents += 1
            bike.owner = self.residents
            self.event(uow, self.pick("registration_point"), "transfer", vehicle=bike.vehicle, new_owner=person(bike.owner))
        elif roll < 0.82:
            self.cases += 1
            self.event(uow, self.pick("investigator"), "report_stolen", vehicle=bike.vehicle, case_number=f"NB-{self.cases:08d}")
            bike.stolen = True
            self.stolen.append(bike)
        elif roll < 0.85:
            self.cases += 1
            self.event(uow, self.pick("investigator"), "report_incident", vehicle=bike.vehicle, battery=bike.battery,
                       incident_type="fire", occurred_at=datetime.datetime.now(datetime.timezone.utc),
                       region=self.rng.choice(DISTRICTS), address="小区地下车库", state="charging",
                       casualties={"dead": 0, "injured": self.rng.randint(0, 1)}, case_number=f"XF-{self.cases:08d}",
                       scene_identifiers=[bike.vehicle, bike.battery], photos=[])
        elif roll < 0.92:
            self.event(uow, self.pick("registration_point"), "deregister", vehicle=bike.vehicle, reason="scrapped")
            self.private[at] = self.private[-1]
            self.private.pop()
            self.deregistered.append(bike)
        else:
            self.recall_step(uow)

    def recover_or_scrap(self, uow) -> None:
        if self.stolen and self.rng.random() < 0.5:
            bike = self.stolen.pop(self.rng.randrange(len(self.stolen)))
            self.event(uow, self.pick("investigator"), "report_recovered", vehicle=bike.vehicle)
            bike.stolen = False
        elif self.deregistered:
            bike = self.deregistered.pop(0)
            recycler = self.pick("recycler")
            self.event(uow, recycler, "scrap", vehicle=bike.vehicle)
            for kind, ident in (("battery", bike.battery), ("charger", bike.charger)):
                self.event(uow, recycler, "retire", **{kind: ident}, reason="end_of_life")
                self.event(uow, recycler, "recycle", **{kind: ident}, method="disassembly")

    def recall_step(self, uow) -> None:
        """Open a recall of an old battery batch, remedy its batteries a few at a time, then close it."""
        maker = self.makers["xingheng"]
        if self.recalls:
            recall_id, pending = self.recalls[0]
            for _ in range(min(3, len(pending))):
                self.event(uow, maker, "recall_remedy", recall=recall_id, battery=pending.pop(), remedy="repaired")
            if not pending:
                self.event(uow, maker, "recall_remedy", recall=recall_id, remedy="closed")
                self.recalls.pop(0)
            return
        if len(self.recallable) < 2:
            return
        batch, batteries = self.recallable.popleft()
        live = {b.battery for b in self.private}
        pending = [b for b in batteries if b in live][:6]  # the rest were swapped out already
        appended = record_event(uow, maker, "recall", {"model": "XH-48V20", "batch": batch, "reason": "电芯批次缺陷，存在热失控风险"})
        self.counts["recall"] = self.counts.get("recall", 0) + 1
        self.recalls.append((appended.body["data"]["recall"], pending))

    # -- a batch -------------------------------------------------------------------------

    def batch(self, uow, size: int) -> None:
        """Record about *size* events: new bikes while the city is young, then mostly life on the road."""
        self.batch_no += 1
        start = uow.log.head()
        on_road = len(self.private) + sum(len(f) for f in self.fleets)
        young = on_road < 2000
        new_private = max(1, size // (20 if young else 60))
        new_fleet = max(1, size // (100 if young else 400))
        self.new_private_bikes(uow, new_private)
        self.new_fleet_bikes(uow, new_fleet)
        while uow.log.head() - start < size:
            r = self.rng.random()
            if r < 0.55:
                if not self.fleet_swap(uow):
                    self.life_event(uow)
            elif r < 0.95:
                self.life_event(uow)
            else:
                self.recover_or_scrap(uow)


def open_registry(database_url: str | None, events: int, fresh: bool = True) -> Registry:
    """The city's registry: its instance folder under ``<REGISTRY_INSTANCE>/bench``; a fresh
    SQLite file unless *fresh* is false (``--resume``)."""
    config = from_environment()
    if database_url:
        instance = Path(config["INSTANCE_PATH"]) / "bench" / "city-pg"
        url = database_url
    else:
        instance = Path(config["INSTANCE_PATH"]) / "bench" / f"city-{events}"
        db = instance / "registry.db"
        instance.mkdir(parents=True, exist_ok=True)
        if fresh:
            for path in [Path(f"{db}{suffix}") for suffix in ("", "-wal", "-shm")] + list(instance.glob("registry-*.db")):
                path.unlink(missing_ok=True)
        elif not db.exists():
            raise SystemExit(f"make_city: nothing to resume: {db} does not exist")
        url = f"sqlite:///{db}"
    if fresh:
        for name in (STATE, STATE + ".new"):
            (instance / name).unlink(missing_ok=True)
    config.update(DATABASE_URL=url, INSTANCE_PATH=str(instance), SIGNING_KEY=str(instance / "keys" / "signing.pem"))
    upgrade(url)
    return Registry(config)


#: The generator's picture of the city, beside the database (``--resumable``).
STATE = "city.state"


class Builder:
    """Grow one city step by step (the benchmark measures between steps)."""

    def __init__(self, registry: Registry, batch: int = 5000, seed: int = 1, progress: bool = True,
                 state: Path | None = None, snapshots: Sequence[int] = (), region: int = 0, plate_prefix: str = "浙B"):
        """*region* > 0 starts the item serials and residents at region × 10⁷ (several cities whose
        items and people never share an identifier); *plate_prefix* is the region's (浙B, 苏A, …)."""
        with registry.reading() as uow:
            if uow.log.size():
                raise SystemExit(f"make_city: the database already holds {uow.log.size()} entries; give an empty one"
                                 + (" (or --resume)" if state else ""))
        self.registry, self.batch, self.progress = registry, batch, progress
        self.state, self.snapshots = state, sorted(snapshots)
        self.city = City(registry, random.Random(seed), serial=region * 10_000_000, residents=region * 10_000_000,
                         plate_prefix=plate_prefix)
        started = time.perf_counter()
        self.city.setup()
        self.setup_s = time.perf_counter() - started
        with registry.reading() as uow:
            self.size = self.setup_size = uow.log.size()
        self.build_s = 0.0
        if state:
            self._save(state)

    @classmethod
    def resume(cls, registry: Registry, state: Path, progress: bool = True, snapshots: Sequence[int] = ()) -> Builder:
        """The builder of a ``--resumable`` city, at its last committed batch."""
        with registry.reading() as uow:
            size = uow.log.size()
        found = {}
        for path in (state, state.with_name(state.name + ".new")):
            try:
                saved = pickle.loads(path.read_bytes())
            except FileNotFoundError:
                continue
            except (pickle.UnpicklingError, EOFError, ValueError):  # cut short by a stop while it was written
                if path == state:
                    raise
                continue
            found[saved["size"]] = (path, saved)
        if size not in found:
            raise SystemExit(f"make_city: the log holds {size:,} entries but the saved pictures of the city are at "
                             f"{', '.join(f'{n:,}' for n in sorted(found)) or 'none'}: cannot resume")
        path, saved = found[size]
        if path != state:  # the batch committed; its picture was not yet renamed
            os.replace(path, state)
        self = cls.__new__(cls)
        self.__dict__.update(saved)
        self.city.registry, self.registry, self.progress = registry, registry, progress
        self.state, self.snapshots = state, sorted(snapshots)
        return self

    def _save(self, path: Path, **now) -> None:
        """Write the picture to *path*, with the fields in *now* as they will be once the batch commits."""
        picture = {k: getattr(self, k) for k in ("batch", "city", "size", "setup_s", "setup_size", "build_s")}
        picture.update(now)
        path.write_bytes(pickle.dumps(picture, protocol=pickle.HIGHEST_PROTOCOL))

    def grow_to(self, events: int) -> None:
        """Record batches until the log holds at least *events* entries (taking the snapshots on the way)."""
        for size in [n for n in self.snapshots if n < events] + [events]:
            self._grow_to(size)
            if size != events:
                self.snapshot(size)

    def snapshot(self, size: int) -> None:
        """Copy the SQLite database as ``registry-<size>.db`` (once)."""
        if not self.registry.db.is_sqlite:
            raise SystemExit("make_city: --snapshots needs SQLite")
        db = Path(self.registry.db.engine.url.database)
        target = db.with_name(f"registry-{size}.db")
        if target.exists() or self.size > size + self.batch:
            return
        log(f"make_city: snapshot of {self.size:,} entries -> {target}")
        conn = sqlite3.connect(db)
        try:
            conn.execute("VACUUM INTO ?", (str(target),))
        finally:
            conn.close()

    def _grow_to(self, events: int) -> None:
        bar = tqdm(total=events, initial=self.size, unit="ev", unit_scale=True, disable=not self.progress,
                   file=sys.stderr, smoothing=0.05)
        pending = self.state.with_name(self.state.name + ".new") if self.state else None
        while self.size < events:
            t0 = time.perf_counter()
            with self.registry.writing() as uow:
                uow.start_batch()
                self.city.batch(uow, min(self.batch, events - self.size))
                if pending:  # the picture that matches this batch, written before it commits
                    self._save(pending, size=uow.log.head(), build_s=self.build_s + time.perf_counter() - t0)
                uow.finish()
                new = uow.log.size()
            if pending:
                os.replace(pending, self.state)
            self.build_s += time.perf_counter() - t0
            bar.update(new - self.size)
            self.size = new
        bar.close()

    def figures(self) -> dict:
        city, took = self.city, self.build_s
        return {
            "events": self.size,
            "setup_s": round(self.setup_s, 2),
            "build_s": round(took, 2),
            "events_per_s": round(self.size / (self.setup_s + took), 1),
            "batched_events_per_s": round((self.size - self.setup_size) / took, 1) if took else None,
            "batch": self.batch,
            "private_bikes": len(city.private), "fleet_bikes": sum(len(f) for f in city.fleets),
            "items": city.serial, "residents": city.residents,
            "kinds": dict(sorted(city.counts.items(), key=lambda kv: -kv[1])),
        }


def build(registry: Registry, events: int, batch: int = 5000, seed: int = 1, progress: bool = True,
          state: Path | None = None, resume: bool = False, snapshots: Sequence[int] = ()) -> dict:
    """Build a city of at least *events* log entries in *registry* (a fresh one, unless *resume*
    carries on from the picture saved in *state*); return the figures."""
    if resume:
        builder = Builder.resume(registry, state, progress, snapshots)
    else:
        builder = Builder(registry, batch, seed, progress, state, snapshots)
    builder.grow_to(events)
    return builder.figures()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, required=True, help="log entries to reach")
    ap.add_argument("--database-url", default=os.environ.get("CITY_DATABASE_URL", ""),
                    help="empty PostgreSQL database (default: a fresh SQLite file under the instance folder)")
    ap.add_argument("--batch", type=int, default=5000, help="events per unit of work (one lock, one checkpoint)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resumable", action="store_true",
                    help=f"save the city's picture ({STATE}) with every batch, so that --resume can carry on")
    ap.add_argument("--resume", action="store_true", help="carry on a --resumable city from its last committed batch")
    ap.add_argument("--snapshots", default="", help="SQLite: copy the database as registry-<N>.db at these sizes, e.g. 100000,1000000")
    args = ap.parse_args(argv)
    snapshots = [int(n) for n in args.snapshots.split(",") if n.strip()]
    if snapshots and args.database_url:
        ap.error("--snapshots needs SQLite")
    registry = open_registry(args.database_url or None, args.events, fresh=not args.resume)
    state = Path(registry.config["INSTANCE_PATH"]) / STATE if args.resumable or args.resume else None
    log(f"make_city: {args.events:,} events into {registry.db.url.split('@')[-1]}" + (" (resuming)" if args.resume else ""))
    figures = build(registry, args.events, args.batch, args.seed, state=state, resume=args.resume, snapshots=snapshots)
    figures["database"] = "postgresql" if not registry.db.is_sqlite else "sqlite"
    rate = figures["events_per_s"]
    log(f"make_city: {figures['events']:,} events in {figures['setup_s'] + figures['build_s']:.1f} s "
        f"({rate:,.0f} events/s); 10^7 at this rate: {1e7 / rate / 3600:.1f} h")
    print(json.dumps(figures, ensure_ascii=False))
    registry.db.dispose()
    return 0


if __name__ == "__main__":
    # The saved picture names its classes by module: as "make_city", not "__main__", so that a city
    # built from the command line can be resumed from any program that imports this module.
    sys.modules.setdefault("make_city", sys.modules[__name__])
    for _cls in [v for v in globals().values() if isinstance(v, type) and v.__module__ == __name__]:
        _cls.__module__ = "make_city"
    sys.exit(main())
