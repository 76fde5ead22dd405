"""Traceback (事故全链条溯源): from any identifier or scanned code to the whole set, its history and what was wrong.

``trace(uow, actor, q)`` resolves *q* (frame, battery or charger code, plate,
code token or full payload, legacy identifier), then follows the chains:

* a part's chain leads to every vehicle it was installed in (the events
  whose ``effects`` set its ``installed_in``, the swaps and incidents that name
  it with a vehicle);
* each vehicle's chain leads to every battery and charger it had.

Everything is read through ``chain_links`` (its primary key starts with the
subject) and primary-key reads of log entries and projections.

The work of one answer is bounded, whatever the size of the log and of a fleet
(docs/TRACE.md "Bounds and paging"): the queried item's own chain is shown
newest first, :data:`PAGE` events at a time (``next`` pages to older ones);
every other item of the set is shown whole when its chain is short (see
:data:`WHOLE`), else only the :data:`WINDOW` newest events of its *tenure*
with the queried item (the events between the first and the last one of the
shown page that link the two; open-ended while they are still bound); at most
:data:`RELATED_VEHICLES` vehicles and :data:`RELATED_PARTS` parts, the most
recent first, the rest listed in ``omitted``. Whatever is cut says so
(``truncated``, ``page``, each subject's ``chain``). A fixed number of queries
answers, however many items: chains and windows in a few statements, recalls,
remedies, models, certificates, approvals, organisations and users each in one.

The evidence bundle asks for ``whole`` chains: the same choice of items, each
with every event of its chain (so that it can be folded and verified offline).

The answer carries the events shown in time order with their log index and
leaf hash, the responsible organisation and user of each step, the sale, the
registrations and owners (clear only for an investigator who gives a case
number, each reveal recorded, and for a registration point on the
registrations it recorded), the organisations, models and certificates it
names with the index of the event that proves each, and flags with stable
codes (:data:`FLAG_CODES`).  Roles other than investigators and regulators see
only the events their own organisation recorded, with personal data masked.
"""

from __future__ import annotations

import bisect
import datetime
import json
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Iterable

from sqlalchemy import bindparam, select, text

from registry.domain import identifiers as ids
from registry.domain import rules
from registry.domain.errors import invalid
from registry.domain.roles import ORG_KINDS, RECORDED_BY, Actor
from registry.services import items as found
from registry.services.vault import person_view
from registry.store.models import (
    Certificate,
    Person,
    ChainLink,
    Item,
    ModelApproval,
    Organisation,
    ProductModel,
    Recall,
    User,
    Voided,
)
from registry.store.db import driver_rows
from registry.store.uow import UnitOfWork

#: Roles that see every event of the set (everyone else: only their own organisation's).
FULL_VIEW = frozenset({"investigator", "regulator"})
ITEM_KINDS = ("vehicle", "battery", "charger")
#: Bounds of :func:`collect` (the whole set, every chain whole: statistics): the answer says when it was cut.
MAX_VEHICLES = 50
MAX_SUBJECTS = 400
#: Bounds of one traceback (:func:`gather`), whatever the size of the log or of a fleet:
#: events of the queried item's own chain per page (newest first; ``next`` pages on),
PAGE = 200
#: a related item's chain shown whole when no longer than WINDOW, or (a queried vehicle's parts, a
#: queried part's primary vehicle and that vehicle's parts) up to WHOLE events while their whole
#: chains add up to no more than RELATED_EVENTS (the most recent items first),
WHOLE = 50
RELATED_EVENTS = 50
#: else the WINDOW newest of its events within its tenure with the queried item,
WINDOW = 10
#: and this many related vehicles and parts (the most recent first; the rest in ``omitted``).
RELATED_VEHICLES = 10
RELATED_PARTS = 10
_CHUNK = 900
#: Subqueries per UNION ALL statement (SQLite allows 500 terms in a compound select).
_UNION = 100

#: Every flag code, with what it means (Chinese, English).
FLAG_CODES: dict[str, tuple[str, str]] = {
    "battery_past_service_age": ("蓄电池生产已超过5年且无有效健康评估", "battery more than 5 years past production without a passed assessment in force"),
    "part_not_approved": ("安装的部件型号不在车辆型号的标配/互认清单中", "installed part's model is not approved for the vehicle model"),
    "part_uncertified": ("部件（或车辆）型号无有效3C证书", "the part's (or vehicle's) model had no valid CCC certificate"),
    "swap_by_unlicensed": ("更换由无资质或在黑名单中的机构记录", "a swap recorded by an organisation not licensed for it or blacklisted at the time"),
    "unremedied_recall": ("处于召回中且未处置", "under an open recall, not remedied"),
    "maker_blacklisted": ("生产企业在黑名单中", "the maker is (or was) blacklisted"),
    "shop_blacklisted": ("经营/维修机构在黑名单中时记录了操作", "a shop recorded a step while blacklisted"),
    "reused_battery": ("梯次利用电池，不得用于电动自行车", "a reused (repurposed) battery, not allowed in an e-bike"),
    "backfilled": ("补码登记的在用物品", "an item coded after the fact (补码)"),
    "chain_anomaly": ("链条缺口或异常", "a gap or anomaly in a chain"),
    "stolen": ("已报告被盗", "reported stolen"),
}

KIND_ZH = {
    "register_organisation": "机构登记", "certificate": "3C证书登记", "model": "型号登记", "commission": "赋码",
    "ship": "发运", "receive": "收货验收", "sell": "销售", "register": "上牌登记", "transfer": "过户",
    "deregister": "注销登记", "backfill": "补码登记", "transfer_in": "转入登记", "repair": "维修", "swap_battery": "更换蓄电池",
    "replace_charger": "更换充电器", "report_modification": "非法改装报告", "assess_battery": "健康评估",
    "recall": "召回", "recall_remedy": "召回处置", "certificate_status": "证书状态变更", "list_change": "名单变更",
    "report_stolen": "报告被盗", "report_recovered": "报告找回", "report_incident": "事故报告",
    "retire": "退役", "recycle": "回收拆解", "scrap": "报废", "correction": "更正",
}
ITEM_ZH = {"vehicle": "整车", "battery": "蓄电池", "charger": "充电器"}

#: A party's role in a step, by event kind.
ROLE_OF_KIND = {
    "commission": "maker", "ship": "logistics", "receive": "logistics", "sell": "seller",
    "register": "registration", "transfer": "registration", "deregister": "registration", "backfill": "registration",
    "transfer_in": "registration",
    "repair": "repairer", "swap_battery": "installer", "replace_charger": "installer",
    "report_modification": "inspector", "assess_battery": "assessor", "recall": "recall", "recall_remedy": "recall",
    "certificate_status": "regulator", "list_change": "regulator", "report_stolen": "investigator",
    "report_recovered": "investigator", "report_incident": "investigator", "retire": "recycler",
    "recycle": "recycler", "scrap": "recycler", "correction": "correction",
}
ROLE_ZH = {
    "maker": "生产", "logistics": "流通", "seller": "销售", "registration": "登记", "repairer": "维修",
    "installer": "换装", "inspector": "检查", "assessor": "评估", "recall": "召回", "regulator": "监管",
    "investigator": "调查", "recycler": "回收", "correction": "更正",
}

INSTALLING = frozenset({"sell", "swap_battery", "replace_charger", "backfill", "transfer_in"})
REGISTRATION_KINDS = ("register", "transfer", "backfill", "transfer_in", "deregister")
SHOP_KINDS = frozenset({"sell", "repair", "swap_battery", "replace_charger", "receive", "retire", "recycle", "scrap"})
#: After a part is retired (recycled) or a vehicle scrapped, only these kinds are expected.
AFTER_END = {
    "retire": frozenset({"recycle", "correction", "assess_battery", "recall_remedy"}),
    "recycle": frozenset({"correction"}),
    "scrap": frozenset({"correction", "deregister"}),
}
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


def kind_of(subject: str) -> str:
    return subject.split(":", 1)[0]


def ident_of(subject: str) -> str:
    return subject.split(":", 1)[1] if ":" in subject else subject


# --- reading the log ---------------------------------------------------------------------


class Event:
    """One log entry with its parsed body (its fields read once: a trace reads them again and again)."""

    __slots__ = ("index", "leaf_hash", "raw", "body", "kind", "org", "user", "data", "prev", "effects", "occurred_at")

    def __init__(self, index: int, leaf_hash: bytes, raw: bytes, body: dict):
        self.index = index
        self.leaf_hash = leaf_hash
        self.raw = raw
        self.body = body
        self.kind: str = body["kind"]
        self.org: str | None = body.get("org")
        self.user: str | None = body.get("user")
        self.data: dict = body.get("data") or {}
        self.prev: dict = body.get("prev") or {}
        self.effects: dict = self.data.get("effects") or {}
        self.occurred_at: str = body.get("occurred_at") or body.get("recorded_at")

    @property
    def day(self) -> datetime.date:
        return datetime.date.fromisoformat(self.occurred_at[:10])


@dataclass
class Shown:
    """The part of one subject's chain an answer holds: ``links`` ``(seq, idx)`` in chain order."""

    links: list[tuple[int, int]]
    #: Events on the whole chain.
    total: int
    #: Index of the link just before the first shown (None: the chain starts there, or it is unknown).
    before: int | None = None
    #: ``whole``, ``page`` (the queried item) or ``tenure`` (a related item, around its time with the queried one).
    window: str = "whole"

    @property
    def complete(self) -> bool:
        return len(self.links) == self.total and (not self.links or self.links[0][0] == 0)

    def describe(self) -> dict:
        return {"complete": self.complete, "window": "whole" if self.complete else self.window, "total": self.total,
                "shown": len(self.links), "from_index": self.links[0][1] if self.links else None,
                "to_index": self.links[-1][1] if self.links else None}


def _many(name: str):
    return bindparam(name, expanding=True)


# The statements of a trace, built once (building a statement costs more than running it on SQLite).
# A chain's links come with their entries and whether a correction voided them: one round trip, each
# row found by primary key (chain_links by subject, log_entries and corrections by index).
_JOINED = ("SELECT cl.subject, cl.seq, cl.idx, le.leaf_hash, le.body, co.correction_index FROM chain_links cl "
           "JOIN log_entries le ON le.idx = cl.idx "
           "LEFT OUTER JOIN corrections co ON co.corrected_index = cl.idx AND co.reason = 'did_not_occur' ")
_LAST_SEQ = text("SELECT seq FROM chain_links WHERE subject = :s ORDER BY seq DESC LIMIT 1")
_LINKS_AT = select(ChainLink.subject, ChainLink.seq, ChainLink.idx).where(ChainLink.idx.in_(_many("indexes")))
_ORGS = select(*Organisation.__table__.columns).where(Organisation.id.in_(_many("ids")))
_USERS = select(User.id, User.username).where(User.id.in_(_many("ids")))
_ITEMS = select(*Item.__table__.columns, select(ChainLink.seq).where(ChainLink.subject == Item.subject)
                .order_by(ChainLink.seq.desc()).limit(1).correlate(Item).scalar_subquery().label("last_seq")
                ).where(Item.subject.in_(_many("subjects")))
_VOIDED = select(Voided.corrected_index, Voided.correction_index).where(
    Voided.corrected_index.in_(_many("indexes")), Voided.reason == "did_not_occur")
_pm, _cert = ProductModel.__table__, Certificate.__table__
#: models with their certificates, in one statement (columns m_… and c_…)
_MODELS = select(*(c.label(f"m_{c.name}") for c in _pm.columns), *(c.label(f"c_{c.name}") for c in _cert.columns)).select_from(
    _pm.outerjoin(_cert, _cert.c.number == _pm.c.certificate)).where(_pm.c.model.in_(_many("names")))
_CERTIFICATES = select(*Certificate.__table__.columns).where(Certificate.number.in_(_many("numbers")))
_APPROVALS = select(ModelApproval.vehicle_model, ModelApproval.part_model).where(ModelApproval.vehicle_model.in_(_many("models")))

# The row-heavy reads (chains with their entries, entries by index) go through the driver's own
# cursor (``driver_rows``), in its parameter style (*p*: ``?`` or ``%s``): SQLAlchemy's result and
# parameter machinery cost about as much per row as the database's search (bench.py trace).
_DRIVER_SQL: dict[tuple, str] = {}


def _driver_sql(what: str, p: str, n: int = 1) -> str:
    """The driver's text of one of the trace's row-heavy statements, built once per (*what*, *p*, *n*):
    ``links`` (the chains of *n* subjects), ``page`` / ``page_before`` (a chain's newest links, LIMIT
    bound), ``ranges`` (*n* ranges ``seq BETWEEN a AND b`` of *n* chains, each a search of the primary
    key) -- all with their entries and whether a correction voided them -- and ``entries`` (*n* by index)."""
    key = (what, p, n)
    sql = _DRIVER_SQL.get(key)
    if sql is None:
        marks = ", ".join([p] * n)
        sql = {
            "links": lambda: _JOINED + f"WHERE cl.subject IN ({marks})",
            "page": lambda: _JOINED + f"WHERE cl.subject = {p} ORDER BY cl.seq DESC LIMIT {p}",
            "page_before": lambda: _JOINED + f"WHERE cl.subject = {p} AND cl.seq < {p} ORDER BY cl.seq DESC LIMIT {p}",
            "ranges": lambda: " UNION ALL ".join(
                _JOINED + f"WHERE cl.subject = {p} AND cl.seq BETWEEN {p} AND {p}" for _ in range(n)),
            "entries": lambda: f"SELECT idx, leaf_hash, body FROM log_entries WHERE idx IN ({marks})",
        }[what]()
        _DRIVER_SQL[key] = sql
    return sql


class Loader:
    """Chains and entries read once each, by primary key, in chunks; organisations and users likewise."""

    def __init__(self, uow: UnitOfWork):
        self.session = uow.session
        self.events: dict[int, Event] = {}
        self.links: dict[str, list[tuple[int, int]]] = {}
        #: corrected index -> correction index (did_not_occur), of the entries read with their links
        self.voided: dict[int, int] = {}
        #: entries read with their links (whether voided is known)
        self.checked: set[int] = set()
        self._orgs: dict[str, object | None] = {}
        self._users: dict[str, object | None] = {}

    @property
    def conn(self):
        """The session's connection: Core statements go straight to it (no ORM context to build)."""
        return self.session.connection()

    def rows(self, what: str, params: list, n: int = 1) -> list:
        """The rows of the row-heavy statement *what* (:func:`_driver_sql`) through the driver's cursor."""
        conn = self.conn
        return driver_rows(conn, _driver_sql(what, "?" if conn.dialect.name == "sqlite" else "%s", n), tuple(params))

    # whole chains

    def chains(self, subjects: Iterable[str]) -> dict[str, list[int]]:
        """Return ``subject -> [index, …]`` in chain order (whole chains), loading the entries too."""
        subjects = list(dict.fromkeys(subjects))
        self.read_links(subjects)
        out = {s: [idx for _, idx in self.links[s]] for s in subjects}
        self.load(i for idxs in out.values() for i in idxs)
        return out

    def read_links(self, subjects: Iterable[str]) -> None:
        """Read the whole chains of *subjects* (``(seq, idx)``) into :attr:`links`, with their entries."""
        missing = [s for s in dict.fromkeys(subjects) if s not in self.links]
        for i in range(0, len(missing), _CHUNK):
            part = missing[i:i + _CHUNK]
            for s in part:
                self.links[s] = []
            for s, seq, idx in self._take(self.rows("links", part, len(part))):
                self.links[s].append((seq, idx))
            for s in part:
                self.links[s].sort()

    def _take(self, rows) -> Iterable[tuple[str, int, int]]:
        """Keep the entries of rows ``(subject, seq, idx, leaf_hash, body, correction_index)``; yield their links."""
        events, voided, checked = self.events, self.voided, self.checked
        for s, seq, idx, leaf, body, correction in rows:
            if idx not in events:
                raw = bytes(body)
                events[idx] = Event(idx, bytes(leaf), raw, json.loads(raw.decode("utf-8")))
            if correction is not None:
                voided[idx] = correction
            checked.add(idx)
            yield s, seq, idx

    # bounded reads (each a search of the primary key, bounded by a LIMIT)

    def page(self, subject: str, limit: int, before_seq: int | None = None) -> Shown:
        """The newest *limit* links of *subject*'s chain older than *before_seq* (all of them: ``before_seq`` None)."""
        if before_seq is None:
            rows = [(seq, idx) for _, seq, idx in self._take(self.rows("page", [subject, limit + 1]))]
            total = rows[0][0] + 1 if rows else 0
        else:
            rows = [(seq, idx) for _, seq, idx in self._take(self.rows("page_before", [subject, before_seq, limit + 1]))]
            top = self.conn.execute(_LAST_SEQ, {"s": subject}).scalar()
            total = 0 if top is None else top + 1
        shown = [(s, i) for s, i in reversed(rows[:limit])]
        return Shown(shown, total, rows[limit][1] if len(rows) > limit else None, "page")

    def windows(self, wants: dict[str, tuple[int | None, int | None]], cap: int, totals: dict[str, int]) -> dict[str, Shown]:
        """For each ``subject -> (lo, hi)`` (log indexes of events on its chain; None: open), the newest
        *cap* links of its chain from *lo* to *hi*, and the link before them: exact ranges of seq, read
        in one statement per 100 subjects, after one search by idx for the ends."""
        ends = sorted({i for lo_hi in wants.values() for i in lo_hi if i is not None})
        seq_of: dict[tuple[str, int], int] = {}
        for i in range(0, len(ends), _CHUNK):
            # by the index on idx: an entry has a few links; the subjects are picked here, not by the database
            for s, seq, idx in self.conn.execute(_LINKS_AT, {"indexes": ends[i:i + _CHUNK]}):
                if s in wants:
                    seq_of[(s, idx)] = seq
        first: dict[str, int] = {}
        ranges: list[tuple[str, int, int]] = []
        for s, (lo, hi) in wants.items():
            last = totals.get(s, 0) - 1
            if last < 0:
                continue
            hi_seq = min(seq_of.get((s, hi), last), last) if hi is not None else last
            lo_seq = seq_of.get((s, lo), 0) if lo is not None else 0
            a = max(0, min(lo_seq, hi_seq), hi_seq - cap + 1)
            first[s] = a
            ranges.append((s, max(0, a - 1), hi_seq))
        got: dict[str, list[tuple[int, int]]] = {s: [] for s in wants}
        for i in range(0, len(ranges), _UNION):
            part = ranges[i:i + _UNION]
            params = [x for s_a_b in part for x in s_a_b]
            for s, seq, idx in self._take(self.rows("ranges", params, len(part))):
                got[s].append((seq, idx))
        out = {}
        for s in wants:
            links = sorted(got[s])
            a = first.get(s, 0)
            shown = [x for x in links if x[0] >= a]
            before = next((x[1] for x in links if x[0] == a - 1), None)
            out[s] = Shown(shown, totals.get(s, 0), before, "tenure")
        return out

    # entries, organisations, users

    def load(self, indexes: Iterable[int]) -> None:
        missing = sorted({i for i in indexes if i not in self.events})
        for i in range(0, len(missing), _CHUNK):
            part = missing[i:i + _CHUNK]
            for idx, leaf, body in self.rows("entries", part, len(part)):
                raw = bytes(body)
                self.events[idx] = Event(idx, bytes(leaf), raw, json.loads(raw.decode("utf-8")))

    def event(self, index: int) -> Event:
        if index not in self.events:
            self.load([index])
        return self.events[index]

    def read_orgs(self, org_ids: Iterable[str | None]) -> None:
        """Read the organisations *org_ids* (id, name, kind, licence, region, registered_index) in one query."""
        missing = sorted({o for o in org_ids if isinstance(o, str) and o and o not in self._orgs})
        for i in range(0, len(missing), _CHUNK):
            part = missing[i:i + _CHUNK]
            for o in part:
                self._orgs[o] = None
            for row in self.conn.execute(_ORGS, {"ids": part}):
                self._orgs[row.id] = row

    def read_users(self, user_ids: Iterable[str | None]) -> None:
        missing = sorted({u for u in user_ids if isinstance(u, str) and u and u not in self._users})
        for i in range(0, len(missing), _CHUNK):
            part = missing[i:i + _CHUNK]
            for u in part:
                self._users[u] = None
            for row in self.conn.execute(_USERS, {"ids": part}):
                self._users[row.id] = row

    def org(self, org_id: str | None):
        """The organisation *org_id* (a row: id, name, kind, license_no, region, registered_index), or None."""
        if not org_id:
            return None
        if org_id not in self._orgs:
            self.read_orgs([org_id])
        return self._orgs[org_id]

    def user(self, user_id: str | None):
        """The user *user_id* (a row: id, username), or None."""
        if not user_id:
            return None
        if user_id not in self._users:
            self.read_users([user_id])
        return self._users[user_id]


# --- resolving the query -----------------------------------------------------------------


def _by_plate(uow: UnitOfWork, value: str) -> Item:
    plate = ids.plate(value, "q")
    key = rules.plate_key(plate)
    m = re.match(f"({_CJK.pattern}+)(.*)", key)
    prefix, body = (m.group(1), m.group(2)) if m else ("", key)
    # The dot is kept where it was typed: try the plate as given, without a dot and with one anywhere.
    candidates = {plate, key} | {prefix + body[:i] + ids.MIDDLE_DOT + body[i:] for i in range(1, len(body))}
    row = uow.session.execute(select(Item).where(Item.plate.in_(sorted(candidates))).limit(1)).scalar()
    if row is None:
        raise found.item_not_found("q")
    return row


def resolve(uow: UnitOfWork, q: object) -> tuple[Item, str]:
    """Return the item *q* names and how it was named (``code``, ``plate``, ``identifier``, ``subject``)."""
    if not isinstance(q, str) or not q.strip():
        raise invalid({"q": [("请输入编码、号牌或二维码内容", "give an identifier, a plate or a scanned code")]})
    value = q.strip()
    if len(value) > 1024:
        raise invalid({"q": [("过长", "is too long")]})
    head, sep, rest = value.partition(":")
    if sep and head in ITEM_KINDS:
        return found.find_item(uow, rest, head, field="q"), "subject"
    if found.code_token(value) is not None:
        return found.find_item(uow, value, None, field="q"), "code"
    if _CJK.search(value):
        return _by_plate(uow, value), "plate"
    return found.find_item(uow, value, None, field="q"), "identifier"


# --- the set -----------------------------------------------------------------------------


def _vehicles_of_part(e: Event, part: str) -> set[str]:
    out = set()
    change = e.effects.get(part) or {}
    if change.get("installed_in"):
        out.add(change["installed_in"])
    for s, c in e.effects.items():
        if c and kind_of(s) == "vehicle" and part in (c.get("battery"), c.get("charger")):
            out.add(s)
    if part in e.prev and e.kind in ("swap_battery", "replace_charger", "report_incident"):
        out.update(s for s in e.prev if kind_of(s) == "vehicle")
    return out


def _parts_of_vehicle(e: Event, vehicle: str) -> set[str]:
    out = set()
    change = e.effects.get(vehicle) or {}
    for k in ("battery", "charger"):
        if change.get(k):
            out.add(change[k])
    for s, c in e.effects.items():
        if c and c.get("installed_in") == vehicle:
            out.add(s)
    if vehicle in e.prev:
        for k in ("old_battery", "new_battery", "old_charger", "new_charger"):
            if isinstance(e.data.get(k), str):
                out.add(e.data[k])
        if e.kind == "report_incident":
            out.update(s for s in e.prev if kind_of(s) in ("battery", "charger"))
    return out


@dataclass
class TraceSet:
    """The items of one traceback, their chains and everything folded from them."""

    start: Item
    vehicles: list[str]
    parts: list[str]
    items: dict[str, Item]
    #: subject -> the indexes of its chain the answer holds (its whole chain unless ``shown`` says otherwise)
    chains: dict[str, list[int]]
    voided: dict[int, int]
    truncated: bool
    #: part -> [{vehicle, installed_index, installed_kind, removed_index, …}]
    installations: dict[str, list[dict]] = field(default_factory=dict)
    #: (subject, index, zh, en) of every chain anomaly found while folding
    anomalies: list[tuple[str, int | None, str, str]] = field(default_factory=list)
    #: subject -> which part of its chain is held (every subject of the set)
    shown: dict[str, Shown] = field(default_factory=dict)
    #: related items found and left out by the bounds (the most recent are kept)
    omitted: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return self.vehicles + self.parts

    def events_of(self, loader: Loader, subject: str, *, live: bool = True) -> list[Event]:
        return [loader.event(i) for i in self.chains.get(subject, []) if not (live and i in self.voided)]

    def installed_at(self, part: str, index: int) -> str | None:
        """Return the vehicle *part* was installed in just before event *index* (per the records)."""
        for inst in self.installations.get(part, []):
            if inst["installed_index"] < index and (inst["removed_index"] is None or inst["removed_index"] >= index):
                return inst["vehicle"]
        return None

    def installed_by(self, part: str, index: int) -> str | None:
        """Like :meth:`installed_at`, counting an installation by event *index* itself."""
        for inst in self.installations.get(part, []):
            if inst["installed_index"] <= index and (inst["removed_index"] is None or inst["removed_index"] > index):
                return inst["vehicle"]
        return None


def collect(uow: UnitOfWork, loader: Loader, start: Item) -> TraceSet:
    """Follow the whole chains from *start* to the whole set (statistics: every chain whole, up to
    :data:`MAX_VEHICLES` vehicles and :data:`MAX_SUBJECTS` items), with primary-key reads only."""
    truncated = False
    vehicles: list[str] = []
    parts: list[str] = []
    seen: set[str] = set()

    def add(lst: list[str], s: str, cap: int) -> None:
        nonlocal truncated
        if s in seen:
            return
        if len(lst) >= cap:
            truncated = True
            return
        lst.append(s)
        seen.add(s)

    if start.kind == "vehicle":
        add(vehicles, start.subject, 1)
    else:
        add(parts, start.subject, 1)
        for i in loader.chains([start.subject])[start.subject]:
            for v in sorted(_vehicles_of_part(loader.event(i), start.subject)):
                add(vehicles, v, MAX_VEHICLES)
        if start.installed_in:
            add(vehicles, start.installed_in, MAX_VEHICLES)
    vchains = loader.chains(vehicles)
    for v in vehicles:
        for i in vchains[v]:
            for p in sorted(_parts_of_vehicle(loader.event(i), v)):
                add(parts, p, MAX_SUBJECTS - len(vehicles))
    rows = _items(uow, vehicles + parts)
    for v in vehicles:
        row = rows.get(v)
        for p in (row.battery, row.charger) if row is not None else ():
            if p:
                add(parts, p, MAX_SUBJECTS - len(vehicles))
    rows.update(_items(uow, [p for p in parts if p not in rows]))
    # one order whatever the starting point: by when each item entered the log
    vehicles = sorted((v for v in vehicles if v in rows), key=lambda s: (rows[s].commissioned_index, s))
    parts = sorted((p for p in parts if p in rows), key=lambda s: (rows[s].commissioned_index, s))
    chains = loader.chains(vehicles + parts)
    every = [i for idxs in chains.values() for i in idxs]
    voided = _voided(uow, every)
    shown = {s: Shown(list(loader.links[s]), len(loader.links[s])) for s in vehicles + parts}
    ts = TraceSet(start, vehicles, parts, rows, chains, voided, truncated, shown=shown)
    _fold(loader, ts)
    return ts


def _spans(events: Iterable[Event], subject: str, find) -> dict[str, list[int]]:
    """``related subject -> [first, last]`` index of the *events* that link it with *subject* (``find``)."""
    out: dict[str, list[int]] = {}
    for e in events:
        for x in find(e, subject):
            span = out.get(x)
            if span is None:
                out[x] = [e.index, e.index]
            else:
                span[0], span[1] = min(span[0], e.index), max(span[1], e.index)
    return out


def gather(uow: UnitOfWork, loader: Loader, start: Item, *, limit: int = PAGE, before_seq: int | None = None,
           whole: bool = False) -> TraceSet:
    """The set of one traceback, within the bounds of the module's docstring (every chain whole: *whole*).

    The queried item's page of its chain (its newest *limit* events older than *before_seq*). For
    a vehicle: the parts that page names and its current ones. For a part: the vehicles it names
    and its current one, then the parts of its *primary* vehicle (the one it is in, else the last
    one): the most recent first, up to :data:`RELATED_PARTS` / :data:`RELATED_VEHICLES`. A related
    item's chain is held whole when short and within :data:`RELATED_EVENTS`, else its window of tenure.
    """
    S = start.subject
    truncated = False
    if whole:
        loader.read_links([S])
        shown = {S: Shown(list(loader.links[S]), len(loader.links[S]))}
    else:
        shown = {S: loader.page(S, limit, before_seq)}
        truncated = not shown[S].complete
    loader.load(i for _, i in shown[S].links)
    rows: dict = {S: start}
    omitted: list[str] = []
    budget = RELATED_EVENTS

    def events(s: str) -> list[Event]:
        return [loader.event(i) for _, i in shown[s].links]

    def pick(spans: dict[str, list[int]], current: Iterable[str | None], cap: int) -> dict[str, tuple[int | None, int | None]]:
        """The *cap* most recent of *spans* (the *current* ones first, open-ended), as ``subject -> (lo, hi)``."""
        nonlocal truncated
        wants: dict[str, tuple[int | None, int | None]] = {}
        for c in current:
            if c and c not in shown and c not in wants:
                wants[c] = (spans[c][0] if c in spans else None, None)
        for x, (lo, hi) in sorted(spans.items(), key=lambda kv: (-kv[1][1], kv[0])):
            if x not in shown and x not in wants:
                wants[x] = (lo, hi)
        keep = dict(list(wants.items())[:cap])
        if len(wants) > cap:
            truncated = True
            omitted.extend(x for x in wants if x not in keep)
        return keep

    def read(wants: dict[str, tuple[int | None, int | None]], budgeted: Iterable[str] | None = None) -> None:
        """Hold each wanted item's chain: whole when no longer than a window, or (the *budgeted* ones: all by
        default) when short and within the budget; else its window. *whole*: every one whole."""
        nonlocal truncated, budget
        rows.update(_items(uow, [x for x in wants if x not in rows]))
        totals = {x: rows[x].last_seq + 1 if rows[x].last_seq is not None else 0 for x in wants if x in rows}
        may = set(wants if budgeted is None else budgeted)
        held, windows = [], {}
        for x in wants:
            if x not in rows:
                continue
            if whole or totals[x] <= WINDOW:
                held.append(x)
            elif x in may and totals[x] <= WHOLE and totals[x] <= budget:
                held.append(x)
                budget -= totals[x]
            else:
                windows[x] = wants[x]
        loader.read_links(held)
        for x in held:
            shown[x] = Shown(list(loader.links[x]), len(loader.links[x]))
        if windows:
            shown.update(loader.windows(windows, WINDOW, totals))
            truncated = truncated or any(not shown[x].complete for x in windows)
        loader.load(i for x in wants if x in shown for _, i in shown[x].links)

    if start.kind == "vehicle":
        read(pick(_spans(events(S), S, _parts_of_vehicle), (start.battery, start.charger), RELATED_PARTS))
    else:
        spans = _spans(events(S), S, _vehicles_of_part)
        first = pick(spans, (start.installed_in,), RELATED_VEHICLES)
        # its primary vehicle (the one it is in, else the last) may be held whole; the others by their windows
        read(first, budgeted=list(first)[:1])
        primary = next((v for v in first if v in shown), None)
        if primary is not None:
            # the set it belongs to: every battery and charger its vehicle had (as far as that vehicle's chain is held)
            row = rows[primary]
            read(pick(_spans(events(primary), primary, _parts_of_vehicle), (row.battery, row.charger), RELATED_PARTS))
    subjects = [x for x in shown if x in rows]
    order = sorted(subjects, key=lambda x: (rows[x].commissioned_index, x))
    vehicles = [x for x in order if kind_of(x) == "vehicle"]
    parts = [x for x in order if kind_of(x) != "vehicle"]
    shown = {x: shown[x] for x in order}
    chains = {x: [i for _, i in shown[x].links] for x in order}
    every = {i for idxs in chains.values() for i in idxs}
    voided = {i: loader.voided[i] for i in every if i in loader.voided}
    voided.update(_voided(uow, [i for i in every if i not in loader.checked]))  # none read without their links, as a rule
    ts = TraceSet(start, vehicles, parts, rows, chains, voided, truncated, shown=shown, omitted=sorted(omitted))
    _fold(loader, ts)
    return ts


def _items(uow: UnitOfWork, subjects: list[str]) -> dict:
    """Item rows (every column, as attributes, and ``last_seq``: the seq of the last link of its chain) by subject."""
    out: dict = {}
    if not subjects:
        return out
    conn = uow.session.connection()
    for i in range(0, len(subjects), _CHUNK):
        out.update({r.subject: r for r in conn.execute(_ITEMS, {"subjects": subjects[i:i + _CHUNK]})})
    return out


def _voided(uow: UnitOfWork, indexes: list[int]) -> dict[int, int]:
    """Return ``corrected index -> correction index`` for events voided (did_not_occur)."""
    out: dict[int, int] = {}
    indexes = sorted(set(indexes))
    for i in range(0, len(indexes), _CHUNK):
        part = indexes[i:i + _CHUNK]
        rows = uow.session.connection().execute(_VOIDED, {"indexes": part})
        out.update({a: b for a, b in rows})
    return out


def _fold(loader: Loader, ts: TraceSet) -> None:
    """Installations of each part, and the anomalies a fold of the chains (as far as they are held) shows."""
    for s in ts.subjects:
        # a gap in the chain: seq not dense, or a body whose prev link is not the chain's previous event
        held = ts.shown.get(s)
        links = held.links if held is not None else loader.links.get(s, [])
        first = links[0][0] if links else 0
        prev = held.before if held is not None else None
        known = first == 0 or prev is not None  # the link before a window is known (or there is none)
        for n, (seq, i) in enumerate(links):
            e = loader.event(i)
            if seq != first + n:
                ts.anomalies.append((s, i, f"{s} 的链条序号缺失（第 {first + n} 个事件序号为 {seq}）", f"{s}: chain sequence gap (event {first + n} has seq {seq})"))
            if s not in e.prev:
                ts.anomalies.append((s, i, f"第 {i} 条事件未在 prev 中列出 {s}", f"entry {i} does not list {s} in prev"))
            elif known and e.prev[s] != prev:
                ts.anomalies.append((s, i, f"第 {i} 条事件的 prev 指向 {e.prev[s]}，链上前一条为 {prev}",
                                     f"entry {i} links {s} back to {e.prev[s]}, the chain's previous event is {prev}"))
            prev, known = i, True
        # events after the end of life
        ended = None
        for e in ts.events_of(loader, s):
            if ended is not None and e.kind not in AFTER_END[ended]:
                ts.anomalies.append((s, e.index, f"{s} 在{KIND_ZH[ended]}之后仍有“{KIND_ZH.get(e.kind, e.kind)}”事件",
                                     f"{s} has a {e.kind} event after {ended}"))
            if e.kind in AFTER_END and (e.kind != "scrap" or kind_of(s) == "vehicle"):
                ended = e.kind
    for p in ts.parts:
        current, out = None, []
        for e in ts.events_of(loader, p):
            if e.kind == "correction":
                continue
            change = e.effects.get(p)
            if not change or "installed_in" not in change:
                continue
            new = change["installed_in"]
            if new == current:
                continue
            if current is not None and new is not None:
                ts.anomalies.append((p, e.index, f"{p} 仍装在 {current} 上时又被装入 {new}",
                                     f"{p} installed in {new} while still installed in {current}"))
            if current is not None:
                out[-1]["removed_index"] = e.index
                out[-1]["removed_kind"] = e.kind
            if new is not None:
                out.append({"vehicle": new, "installed_index": e.index, "installed_kind": e.kind,
                            "installed_at": e.occurred_at, "installed_by": e.org, "removed_index": None, "removed_kind": None})
            current = new
        ts.installations[p] = out
    # an incident naming a vehicle and a part the records never put in it (现场未发现更换记录)
    seen = set()
    for s in ts.subjects:
        for e in ts.events_of(loader, s):
            if e.kind != "report_incident" or e.index in seen:
                continue
            seen.add(e.index)
            vs = [x for x in e.prev if kind_of(x) == "vehicle"]
            for p in (x for x in e.prev if kind_of(x) in ("battery", "charger") and x in ts.installations):
                if not ts.shown[p].complete and not ts.installed_at(p, e.index):
                    continue  # the installation began before the window held: not known here
                for v in vs:
                    if ts.installed_at(p, e.index) != v:
                        ts.anomalies.append((p, e.index, f"事故现场 {p} 在 {v} 上，但没有装入该车的记录（未发现更换记录）",
                                             f"{p} was found in {v} at the incident but no record installs it there"))
# --- facts as of an event ----------------------------------------------------------------


class Facts:
    """Catalogue facts (models, certificates and their status, lists, approvals) as of any index,
    from the chains that record them; read for a whole set at once (:meth:`prefetch`)."""

    def __init__(self, uow: UnitOfWork, loader: Loader):
        self.uow = uow
        self.loader = loader
        self._models: dict[str, object | None] = {}
        self._certs: dict[str, object | None] = {}
        #: vehicle model -> the part models approved for it
        self._approved: dict[str, set[str]] = {}
        #: org -> (indexes of its blacklist changes, the listing index in force after each, None: off the list)
        self._lists: dict[str, tuple[list[int], list[int | None]]] = {}
        #: certificate -> (indexes of its status events, the status after each)
        self._status: dict[str, tuple[list[int], list[str | None]]] = {}

    def prefetch(self, models: Iterable[str | None], vehicle_models: Iterable[str | None], orgs: Iterable[str | None]) -> None:
        """Read the models, their certificates, the approvals of *vehicle_models* and the chains of the
        certificates and of *orgs* (and of the models' makers and certificates' holders): a few queries."""
        conn = self.loader.conn
        want = sorted({m for m in models if m and m not in self._models})
        for i in range(0, len(want), _CHUNK):
            part = want[i:i + _CHUNK]
            self._models.update(dict.fromkeys(part))
            for row in conn.execute(_MODELS, {"names": part}).mappings():
                model = SimpleNamespace(**{c.name: row[f"m_{c.name}"] for c in _pm.columns})
                self._models[model.model] = model
                if row["c_number"] is not None:
                    self._certs[row["c_number"]] = SimpleNamespace(**{c.name: row[f"c_{c.name}"] for c in _cert.columns})
        certs = sorted({m.certificate for m in self._models.values() if m is not None and m.certificate} - set(self._certs))
        if certs:
            self._certs.update(dict.fromkeys(certs))
            for row in conn.execute(_CERTIFICATES, {"numbers": certs}):
                self._certs[row.number] = row
        vms = sorted({m for m in vehicle_models if m and m not in self._approved})
        if vms:
            for m in vms:
                self._approved[m] = set()
            for vm, pm in conn.execute(_APPROVALS, {"models": vms}):
                self._approved[vm].add(pm)
        orgs = {o for o in orgs if o}
        orgs |= {m.maker_org_id for m in self._models.values() if m is not None}
        orgs |= {c.holder_org_id for c in self._certs.values() if c is not None}
        self._read_catalogue(sorted(o for o in orgs if o not in self._lists), list(self._certs))

    def _read_catalogue(self, orgs: list[str], certs: list[str]) -> None:
        certs = [n for n in certs if n not in self._status]
        chains = self.loader.chains([f"org:{o}" for o in orgs] + [f"certificate:{n}" for n in certs])
        for o in orgs:
            idxs, listed = [], []
            for i in chains[f"org:{o}"]:
                e = self.loader.event(i)
                if e.kind == "list_change" and e.data.get("list") == "blacklist":
                    idxs.append(i)
                    listed.append(i if e.data.get("action") == "add" else None)
            self._lists[o] = (idxs, listed)
        for n in certs:
            idxs, status = [], []
            for i in chains[f"certificate:{n}"]:
                e = self.loader.event(i)
                if e.kind == "certificate":
                    idxs.append(i)
                    status.append("valid")
                elif e.kind == "certificate_status":
                    idxs.append(i)
                    status.append(e.data.get("status"))
            self._status[n] = (idxs, status)

    def model(self, name: str | None):
        """The product model *name* (a row with every column), or None."""
        if not name:
            return None
        if name not in self._models:
            self.prefetch([name], (), ())
        return self._models[name]

    def certificate(self, number: str | None):
        """The certificate *number* (a row with every column), or None."""
        if not number:
            return None
        if number not in self._certs:
            self._certs[number] = self.loader.conn.execute(_CERTIFICATES, {"numbers": [number]}).first()
        return self._certs[number]

    def status_changes(self, number: str) -> list[int]:
        """Indexes of the certificate_status events of certificate *number*."""
        if number not in self._status:
            self._read_catalogue([], [number])
        idxs, _ = self._status[number]
        return [i for i in idxs if self.loader.event(i).kind == "certificate_status"]

    def certificate_status_at(self, number: str, index: int) -> str | None:
        """Return the certificate's status just before *index* (None: not yet recorded)."""
        if number not in self._status:
            self._read_catalogue([], [number])
        idxs, status = self._status[number]
        k = bisect.bisect_left(idxs, index)
        return status[k - 1] if k else None

    def blacklisted_at(self, org_id: str, index: int | None) -> int | None:
        """Return the index of the list_change that put *org_id* on the blacklist as of *index* (None: not listed)."""
        if org_id not in self._lists:
            self._read_catalogue([org_id], [])
        idxs, listed = self._lists[org_id]
        k = len(idxs) if index is None else bisect.bisect_left(idxs, index)
        return listed[k - 1] if k else None

    def approved(self, vehicle_model: str, part_model: str) -> bool:
        if vehicle_model not in self._approved:
            self.prefetch((), [vehicle_model], ())
        return part_model in self._approved[vehicle_model]


def assessed_on_at(events: list[Event], day: datetime.date) -> datetime.date | None:
    """Fold a battery's assessments dated up to *day*: the passed assessment in force, or None."""
    current = None
    for e in events:
        if e.kind != "assess_battery" or e.day > day:
            continue
        if e.data.get("result") == "passed":
            if current is None or e.day > current:
                current = e.day
        elif current is None or e.day >= current:
            current = None
    return current


def covering_recalls(uow: UnitOfWork, item: Item, certificate: str | None) -> list[Recall]:
    """Return every recall (open or closed) whose scope covers *item* (:func:`items.recall_covers`)."""
    if item.model is None:
        return []
    return found.covering_recalls_of(uow, [item], {item.model: certificate})[item.subject]


# --- the answer --------------------------------------------------------------------------


class Trace:
    """A traceback: the answer, and what a bundle needs to prove it (read only when asked for)."""

    def __init__(self, result: dict, loader: Loader, trace_set: TraceSet, set_indexes: list[int], catalogue: list[str],
                 photos: list[str]):
        self.result = result
        self.loader = loader
        self.trace_set = trace_set
        #: Photos named by the set's incidents.
        self.photos = photos
        self._set_indexes = set_indexes
        self._catalogue = catalogue
        self._complete: dict[str, list[int]] | None = None
        self._indexes: list[int] | None = None

    @property
    def complete_chains(self) -> dict[str, list[int]]:
        """Subjects whose whole chain the answer holds (the set's items held whole; the catalogue it names)."""
        if self._complete is None:
            ts = self.trace_set
            self._complete = {s: list(ts.chains[s]) for s in ts.subjects if ts.shown[s].complete}
            self._complete.update(self.loader.chains(self._catalogue))
        return self._complete

    @complete_chains.setter
    def complete_chains(self, value: dict[str, list[int]]) -> None:
        self._complete = value

    @property
    def indexes(self) -> list[int]:
        """Every index the answer rests on (the set's events and the catalogue events it names)."""
        if self._indexes is None:
            self._indexes = sorted({i for idxs in self.complete_chains.values() for i in idxs} | set(self._set_indexes))
        return self._indexes

    @indexes.setter
    def indexes(self, value: list[int]) -> None:
        self._indexes = value


class _Builder:
    def __init__(self, uow: UnitOfWork, actor: Actor, case_number: str | None, lang: str, today: datetime.date):
        self.uow = uow
        self.actor = actor
        self.case_number = case_number
        self.lang = lang
        self.today = today
        self.full = actor.org_kind in FULL_VIEW
        self.loader = Loader(uow)
        self.facts = Facts(uow, self.loader)
        self.named_orgs: dict[str, Organisation] = {}
        self.named_models: set[str] = set()
        self.named_certs: set[str] = set()
        self.people: dict[tuple[str, bool], dict] = {}
        self.revealed = False
        self._refs: dict[str | None, dict] = {}
        #: rows read ahead for this answer, held so that the session's identity map keeps them
        self.held: list = []
        self._specs: dict[str, dict] = {}
        #: subject -> open recalls covering it, not remedied (items.open_recalls_of)
        self.open_recalls: dict[str, list[Recall]] = {}
        #: vehicle -> [(part, installation)] of the set
        self.fitted: dict[str, list[tuple[str, dict]]] | None = None

    # refs ---------------------------------------------------------------------------

    def msg(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def org_ref(self, org_id: str | None) -> dict | None:
        ref = self._refs.get(org_id)
        if ref is None:
            org = self.loader.org(org_id)
            if org is None:
                return None
            self.named_orgs[org.id] = org
            ref = self._refs[org_id] = {"id": org.id, "name": org.name, "kind": org.kind}
        return dict(ref)

    def org_label(self, org_id: str | None) -> str:
        org = self.loader.org(org_id)
        return org.name if org else (org_id or "-")

    def visible(self, e: Event) -> bool:
        return self.full or (e.org is not None and e.org == self.actor.org_id)

    def person(self, subject: str | None, e: Event) -> dict | None:
        if not isinstance(subject, str) or not subject.startswith("owner:"):
            return None
        pseudonym = subject.split(":", 1)[1]
        clear = bool(
            (self.actor.org_kind == "investigator" and self.case_number)
            or (self.actor.org_kind == "registration_point" and e.org == self.actor.org_id and e.kind in REGISTRATION_KINDS)
        )
        key = (pseudonym, clear)
        if key not in self.people:
            self.people[key] = person_view(self.uow, self.uow.registry.vault, self.actor, pseudonym, clear=clear,
                                           case_number=self.case_number, purpose="trace")
            self.revealed = self.revealed or clear
        return dict(self.people[key])

    def specs(self, model) -> dict | None:
        if model is None:
            return None
        if model.model not in self._specs:
            self._specs[model.model] = json.loads(model.specs)
        return dict(self._specs[model.model])

    # sections -----------------------------------------------------------------------

    def describe(self, ts: TraceSet, s: str) -> dict:
        item = ts.items[s]
        model = self.facts.model(item.model)
        cert = self.facts.certificate(model.certificate if model else None)
        if model is not None:
            self.named_models.add(model.model)
        if cert is not None:
            self.named_certs.add(cert.number)
        out = {
            "subject": s, "kind": item.kind, "identifier": item.identifier, "queried": s == ts.start.subject,
            "model": item.model, "maker": self.org_ref(item.maker_org_id),
            "specs": self.specs(model),
            "certificate": {"number": cert.number, "status": cert.status, "issued_on": cert.issued_on,
                            "expires_on": cert.expires_on} if cert else None,
            "produced_on": item.produced_on, "batch": item.batch, "state": item.state,
            "reused": bool(item.reused), "legacy": bool(item.legacy), "backfilled": bool(item.backfilled),
            "stolen": bool(item.stolen), "recalled": bool(self.open_recalls.get(s)),
            "commissioned_index": item.commissioned_index,
            "code": item.code,
            "chain": ts.shown[s].describe(),
        }
        if item.kind == "vehicle":
            out["standard"] = model.standard if model else None
            out["battery"] = item.battery
            out["charger"] = item.charger
            out["plate"] = item.plate if self.full else None
            if self.fitted is None:
                self.fitted = {}
                for p in ts.parts:
                    for inst in ts.installations.get(p, []):
                        self.fitted.setdefault(inst["vehicle"], []).append((p, inst))
            out["parts"] = [{"part": p, **{k: v for k, v in inst.items() if k != "vehicle"}} for p, inst in self.fitted.get(s, [])]
        else:
            out["installed_in"] = item.installed_in
            out["installations"] = ts.installations.get(s, [])
            if item.kind == "battery":
                out["battery_age_days"] = found.age_days(item.produced_on, self.today)
                out["assessed_on"] = item.assessed_on
        return out

    def timeline_entry(self, e: Event, ts: TraceSet, correction_of: dict[int, int]) -> dict:
        user = self.loader.user(e.user)
        data = {k: v for k, v in e.data.items() if k != "effects"}
        return {
            "index": e.index, "leaf_hash": e.leaf_hash.hex(), "event_id": e.body.get("event_id"), "kind": e.kind,
            "kind_zh": KIND_ZH.get(e.kind, e.kind), "occurred_at": e.occurred_at, "recorded_at": e.body.get("recorded_at"),
            "org": self.org_ref(e.org), "user": e.user, "username": user.username if user else None,
            "subjects": sorted(e.prev), "data": data,
            "voided": e.index in ts.voided, "voided_by": ts.voided.get(e.index),
        }


def _date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _cursor(after: object) -> int | None:
    """The chain position a ``next`` cursor names (events older than it come next)."""
    if after is None or after == "":
        return None
    if isinstance(after, str) and after.isascii() and after.isdigit() and len(after) <= 18:
        return int(after)
    raise invalid({"after": [("翻页标记无效（请使用上一页返回的 next）", "not a cursor: give the next of the previous page")]})


def build(uow: UnitOfWork, actor: Actor, q: str, case_number: str | None = None, *, lang: str = "zh",
          today: datetime.date | None = None, after: str | None = None, limit: int = PAGE, whole: bool = False) -> Trace:
    """Trace *q*: the set, its history, responsible parties and flags (see the module's docstring).

    *after* (the ``next`` of a previous answer) and *limit* page through the queried item's chain;
    *whole* holds every chosen item's whole chain (the evidence bundle).
    """
    uow.session.flush()  # what this unit of work recorded is read below by Core statements
    start, via = resolve(uow, q)
    before_seq = _cursor(after)
    if not isinstance(limit, int) or not 1 <= limit <= PAGE:
        raise invalid({"limit": [(f"应为 1 到 {PAGE}", f"must be between 1 and {PAGE}")]})
    case_number = case_number.strip() if isinstance(case_number, str) and case_number.strip() else None
    b = _Builder(uow, actor, case_number, lang, today or datetime.datetime.now(datetime.timezone.utc).date())
    L = b.loader
    ts = gather(uow, L, start, limit=limit, before_seq=before_seq, whole=whole)
    items = [ts.items[s] for s in ts.subjects]

    # the catalogue facts of the whole set, each kind read once
    set_events = [L.event(i) for s in ts.subjects for i in ts.chains[s]]
    b.facts.prefetch((it.model for it in items), (it.model for it in items if it.kind == "vehicle"),
                     [e.org for e in set_events] + [it.maker_org_id for it in items])
    certificates = {it.model: (m.certificate if (m := b.facts.model(it.model)) is not None else None)
                    for it in items if it.model}
    covering = found.covering_recalls_of(uow, items, certificates)
    b.open_recalls = found.open_recalls_of(uow, items, certificates, covering=covering)

    # the timeline: the set's chains, the recalls covering its items, its certificates' status changes
    extra: set[int] = set()
    recalls: dict[str, Recall] = {}
    for s in ts.subjects:
        for r in covering.get(s, ()):
            recalls[r.id] = r
            extra.add(r.opened_index)
            if r.closed_index is not None:
                extra.add(r.closed_index)
    for cert in sorted({c for c in certificates.values() if c}):
        extra.update(b.facts.status_changes(cert))
    L.load(extra)
    set_indexes = sorted({i for s in ts.subjects for i in ts.chains[s]} | extra)
    events = [L.event(i) for i in set_indexes]
    events.sort(key=lambda e: (e.occurred_at, e.index))
    visible = [e for e in events if b.visible(e)]
    # every organisation and user the answer names, in one query each
    L.read_orgs([e.org for e in events] + [e.data.get("buyer_org") for e in visible] + [r.org_id for r in recalls.values()]
                + [it.maker_org_id for it in items] + [actor.org_id])
    L.read_users(e.user for e in visible)
    timeline = [b.timeline_entry(e, ts, ts.voided) for e in visible]
    live = [e for e in visible if e.index not in ts.voided]

    subjects = {s: b.describe(ts, s) for s in ts.subjects}
    primary = start.subject if start.kind == "vehicle" else (start.installed_in or _last_vehicle(ts, start.subject))

    # every owner the answer names, in one statement (person_view then finds each in the session)
    owners_named = {x.split(":", 1)[1] for e in live for x in (e.data.get("buyer"), e.data.get("owner"), e.data.get("to"),
                                                              e.data.get("from")) if isinstance(x, str) and x.startswith("owner:")}
    if len(owners_named) > 1:
        b.held = list(uow.session.execute(select(Person).where(Person.pseudonym.in_(sorted(owners_named)))).scalars())
    sales, registrations, incidents = [], [], []
    for e in live:
        if e.kind == "sell":
            v = next((s for s in e.prev if kind_of(s) == "vehicle"), None)
            vc = e.effects.get(v) or {}
            sales.append({
                "index": e.index, "vehicle": v, "dealer": b.org_ref(e.org), "sold_at": e.occurred_at,
                "battery": vc.get("battery"), "charger": vc.get("charger"),
                "buyer": b.person(e.data.get("buyer"), e), "buyer_org": b.org_ref(e.data.get("buyer_org")),
            })
        elif e.kind in REGISTRATION_KINDS:
            v = next((s for s in e.prev if kind_of(s) == "vehicle"), None)
            owner = e.data.get("owner") or e.data.get("to")
            registrations.append({
                "index": e.index, "kind": e.kind, "vehicle": v, "org": b.org_ref(e.org), "occurred_at": e.occurred_at,
                "plate": e.data.get("plate"), "owner": b.person(owner, e) if e.kind != "deregister" else None,
                "previous_owner": b.person(e.data.get("from"), e) if e.kind == "transfer" else None,
            })
        elif e.kind == "report_incident":
            d = e.data
            incidents.append({
                "index": e.index, "incident_type": d.get("incident_type"), "occurred_at": e.occurred_at,
                "region": d.get("region"), "address": d.get("address"), "state": d.get("state"),
                "casualties": d.get("casualties"), "case_number": d.get("case_number"),
                "escalated": bool(d.get("escalated")), "subjects": d.get("subjects") or sorted(s for s in e.prev if kind_of(s) in ITEM_KINDS),
                "scene_identifiers": d.get("scene_identifiers") or [], "photos": d.get("photos") or [],
                "org": b.org_ref(e.org),
            })
    owners: dict[str, dict] = {}
    for rec in [*(s["buyer"] for s in sales), *(r["owner"] for r in registrations), *(r["previous_owner"] for r in registrations)]:
        if rec and (rec["pseudonym"] not in owners or not rec.get("masked", True)):
            owners[rec["pseudonym"]] = rec

    flags = _flags(b, ts, live if b.full else [L.event(i) for i in set_indexes if i not in ts.voided], recalls)
    if not b.full:
        shown = {e.index for e in visible}
        flags = [f for f in flags if f["index"] is None or f["index"] in shown or f["code"] in _PUBLIC_FLAGS]

    parties = _parties(b, ts, live)

    recall_list = []
    for r in sorted(recalls.values(), key=lambda r: r.opened_index):
        opened = L.event(r.opened_index)
        if not b.visible(opened):
            continue
        recall_list.append({
            "id": r.id, "index": r.opened_index, "closed_index": r.closed_index, "reason": r.reason,
            "org": b.org_ref(r.org_id), "model": r.model, "batch": r.batch, "certificate": r.certificate,
            "produced_from": r.produced_from, "produced_to": r.produced_to,
            "open_for": sorted(s for s in ts.subjects if any(x.id == r.id for x in b.open_recalls.get(s, ()))),
        })

    # catalogue facts the answer names, each with the index of the event that proves it
    for m in sorted(b.named_models):
        model = b.facts.model(m)
        b.org_ref(model.maker_org_id)
        if model.certificate:
            b.named_certs.add(model.certificate)
    models = {}
    for m in sorted(b.named_models):
        model = b.facts.model(m)
        models[m] = {"model": m, "kind": model.kind, "maker": b.org_ref(model.maker_org_id),
                     "certificate": model.certificate, "index": model.registered_index}
    certificates = {}
    for n in sorted(b.named_certs):
        cert = b.facts.certificate(n)
        if cert is None:
            continue
        certificates[n] = {"number": n, "product_kind": cert.product_kind, "status": cert.status,
                           "holder": b.org_ref(cert.holder_org_id), "issued_on": cert.issued_on,
                           "expires_on": cert.expires_on, "index": cert.registered_index, "status_index": cert.status_index}
    organisations = {
        o.id: {"id": o.id, "name": o.name, "kind": o.kind, "kind_zh": ORG_KINDS.get(o.kind, (o.kind,))[0],
               "license_no": o.license_no, "region": o.region, "index": o.registered_index}
        for o in sorted(b.named_orgs.values(), key=lambda o: o.registered_index)
    }

    result = {
        "query": {"q": q, "via": via, "subject": start.subject, "kind": start.kind, "identifier": start.identifier},
        "view": "full" if b.full else "own_records",
        "personal_data": "clear" if b.revealed else "masked",
        "case_number": case_number,
        "vehicle": primary,
        "set": {"vehicles": list(ts.vehicles), "batteries": [p for p in ts.parts if kind_of(p) == "battery"],
                "chargers": [p for p in ts.parts if kind_of(p) == "charger"]},
        "truncated": ts.truncated,
        "page": _page(ts, None if whole else limit),
        "omitted": ts.omitted,
        "subjects": subjects,
        "sales": sales,
        "registrations": registrations,
        "owners": list(owners.values()),
        "incidents": incidents,
        "recalls": recall_list,
        "timeline": timeline,
        "parties": parties,
        "flags": flags,
        "organisations": organisations,
        "models": models,
        "certificates": certificates,
        "tree_size": uow.log.size(),
    }
    if b.revealed:
        uow.commit()  # the reveals are recorded before the answer leaves

    catalogue = [f"org:{o}" for o in organisations] + [f"model:{m}" for m in models] + [f"certificate:{n}" for n in certificates]
    photos = sorted({h for inc in incidents for h in inc["photos"]})
    return Trace(result, L, ts, set_indexes, catalogue, photos)


def _page(ts: TraceSet, limit: int | None) -> dict:
    """Which part of the queried item's chain the answer holds, newest first, and the cursor to the older events."""
    held = ts.shown[ts.start.subject]
    oldest = held.links[0][0] if held.links else 0
    return {"subject": ts.start.subject, "order": "newest_first", "limit": limit, **held.describe(),
            "next": str(oldest) if oldest > 0 else None}


def trace(uow: UnitOfWork, actor: Actor, q: str, case_number: str | None = None, *, lang: str = "zh",
          today: datetime.date | None = None, after: str | None = None, limit: int = PAGE) -> dict:
    """Return the traceback of *q* as API.md's ``/trace`` answer (one page: see :func:`build`)."""
    return build(uow, actor, q, case_number, lang=lang, today=today, after=after, limit=limit).result


def _last_vehicle(ts: TraceSet, part: str) -> str | None:
    inst = ts.installations.get(part) or []
    return inst[-1]["vehicle"] if inst else (ts.vehicles[0] if ts.vehicles else None)


# --- flags -------------------------------------------------------------------------------

#: Flags about an item's own state that anyone scanning its code may know: shown to every role.
_PUBLIC_FLAGS = frozenset({"battery_past_service_age", "unremedied_recall", "reused_battery", "backfilled", "stolen"})


def _flags(b: _Builder, ts: TraceSet, events: list[Event], recalls: dict[str, Recall]) -> list[dict]:
    L, facts, out, seen = b.loader, b.facts, [], set()

    def message_key(code: str, zh: str) -> str:
        return zh if code == "chain_anomaly" else ""  # distinct anomalies of one step all count

    def flag(code: str, subject: str | None, index: int | None, zh: str, en: str) -> None:
        key = (code, subject, index, message_key(code, zh))
        if key not in seen:
            seen.add(key)
            out.append({"code": code, "subject": subject, "index": index, "message": b.msg(zh, en)})

    by_index = {e.index: e for e in events}
    for s in ts.subjects:
        item = ts.items[s]
        name = f"{ITEM_ZH[item.kind]} {item.identifier}"
        chain = [L.event(i) for i in ts.chains[s] if i not in ts.voided]
        # battery past its service age (at each incident, and today while in service)
        if item.kind == "battery" and item.produced_on:
            produced = _date(item.produced_on)
            judged = False
            for e in chain:
                if e.kind == "report_incident" and produced and rules.battery_overdue_for_assessment(
                        produced, _assessed_at(ts, s, item, chain, e.day), e.day):
                    flag("battery_past_service_age", s, e.index, f"{name} 生产于 {item.produced_on}，事故时已超过5年且无有效健康评估",
                         f"{item.identifier} (produced {item.produced_on}) was past 5 years without a passed assessment at the incident")
                    judged = True
            if produced and not judged and item.state not in ("retired", "recycled") and rules.battery_overdue_for_assessment(
                    produced, _date(item.assessed_on), b.today):
                flag("battery_past_service_age", s, item.commissioned_index,
                     f"{name} 生产于 {item.produced_on}，已超过5年且无有效健康评估（应退出使用或评估）",
                     f"{item.identifier} (produced {item.produced_on}) is past 5 years without a passed assessment in force")
        if item.kind == "battery" and item.reused:
            flag("reused_battery", s, item.commissioned_index, f"{name} 为梯次利用电池（-R），不得用于电动自行车",
                 f"{item.identifier} is a reused battery (-R), not allowed in an e-bike")
        if item.backfilled:
            bf = next((e.index for e in chain if e.kind == "backfill"), item.commissioned_index)
            flag("backfilled", s, bf, f"{name} 为补码登记（在用车辆补录编码），早期记录缺失",
                 f"{item.identifier} was coded after the fact (补码): its earlier history is not on record")
        if item.stolen:
            st = next((e.index for e in reversed(chain) if e.kind == "report_stolen"), None)
            flag("stolen", s, st, f"{name} 已报告被盗", f"{item.identifier} is reported stolen")
        for r in b.open_recalls.get(s, ()):
            flag("unremedied_recall", s, r.opened_index, f"{name} 处于召回中（{r.reason}），尚未处置",
                 f"{item.identifier} is under an open recall ({r.reason}), not remedied")
        # the maker blacklisted: now, or when its item was sold or installed
        if item.maker_org_id:
            now = facts.blacklisted_at(item.maker_org_id, None)
            maker = b.org_label(item.maker_org_id)
            if now is not None:
                flag("maker_blacklisted", s, now, f"{name} 的生产企业 {maker} 在黑名单中", f"the maker of {item.identifier}, {maker}, is blacklisted")
            for e in chain:
                if e.kind in INSTALLING and facts.blacklisted_at(item.maker_org_id, e.index) is not None:
                    flag("maker_blacklisted", s, e.index, f"{KIND_ZH[e.kind]}时 {name} 的生产企业 {maker} 在黑名单中",
                         f"the maker of {item.identifier}, {maker}, was blacklisted at the {e.kind}")
    # installations: approved, certified
    for p in ts.parts:
        part = ts.items[p]
        pmodel = facts.model(part.model)
        name = f"{ITEM_ZH[part.kind]} {part.identifier}"
        for inst in ts.installations.get(p, []):
            v = ts.items.get(inst["vehicle"])
            i = inst["installed_index"]
            e = L.event(i)
            if v is not None and v.model and part.model and not facts.approved(v.model, part.model):
                flag("part_not_approved", p, i, f"{name} 的型号 {part.model} 不在车辆型号 {v.model} 的标配/互认清单中（{KIND_ZH[e.kind]}）",
                     f"{part.identifier}'s model {part.model} is not approved for vehicle model {v.model} ({e.kind})")
            _certified(b, flag, p, name, part.identifier, pmodel, e)
    for v in ts.vehicles:
        vehicle = ts.items[v]
        sale = next((e for e in (L.event(i) for i in ts.chains[v]) if e.kind == "sell" and e.index not in ts.voided), None)
        if sale is not None:
            _certified(b, flag, v, f"整车 {vehicle.identifier}", vehicle.identifier, facts.model(vehicle.model), sale)
    # who swapped: licensed, not blacklisted; shops blacklisted at their step
    for e in sorted(by_index.values(), key=lambda e: e.index):
        org = b.loader.org(e.org)
        if e.kind in ("swap_battery", "replace_charger"):
            subj = e.data.get("new_battery") or e.data.get("new_charger")
            if org is None or org.kind not in RECORDED_BY[e.kind]:
                flag("swap_by_unlicensed", subj, e.index, f"{b.org_label(e.org)} 无{KIND_ZH[e.kind]}资质",
                     f"{b.org_label(e.org)} is not licensed to record {e.kind}")
            elif b.facts.blacklisted_at(org.id, e.index) is not None:
                flag("swap_by_unlicensed", subj, e.index, f"{org.name} 在黑名单中时记录了{KIND_ZH[e.kind]}",
                     f"{org.name} recorded a {e.kind} while blacklisted")
        if e.kind in SHOP_KINDS and org is not None and org.kind not in ("manufacturer", "regulator", "investigator"):
            if b.facts.blacklisted_at(org.id, e.index) is not None:
                subj = next((s for s in e.prev if s in ts.items), None)
                flag("shop_blacklisted", subj, e.index, f"{org.name} 在黑名单中时记录了{KIND_ZH.get(e.kind, e.kind)}",
                     f"{org.name} recorded a {e.kind} while blacklisted")
    for s, i, zh, en in ts.anomalies:
        flag("chain_anomaly", s, i, zh, en)
    out.sort(key=lambda f: (f["index"] is None, f["index"] or 0, f["code"], f["subject"] or ""))
    return out


def _assessed_at(ts: TraceSet, s: str, item, chain: list[Event], day: datetime.date) -> datetime.date | None:
    """The passed assessment in force on *day*, from the chain as held; a window without any assessment
    up to *day* falls back on the item's last passed one, when it is no later than *day*."""
    found_ = assessed_on_at(chain, day)
    if found_ is None and not ts.shown[s].complete and not any(e.kind == "assess_battery" and e.day <= day for e in chain):
        last = _date(item.assessed_on)
        if last is not None and last <= day:
            return last
    return found_


def _certified(b: _Builder, flag, subject: str, name: str, identifier: str, model: ProductModel | None, e: Event) -> None:
    """Flag part_uncertified when *model* had no valid CCC certificate on the day of event *e*."""
    if model is None:
        return  # a legacy item of unknown model: its backfilled flag says so
    if not model.certificate:
        flag("part_uncertified", subject, e.index, f"{name} 的型号 {model.model} 没有3C证书", f"{identifier}'s model {model.model} has no CCC certificate")
        return
    cert = b.facts.certificate(model.certificate)
    status = b.facts.certificate_status_at(model.certificate, e.index)
    day = e.day
    why = None
    if cert is None or status is None:
        why = ("证书未登记", "the certificate is not on record")
    elif status != "valid":
        why = (f"证书 {cert.number} 当时为{'暂停' if status == 'suspended' else '撤销'}状态", f"certificate {cert.number} was {status}")
    elif day > datetime.date.fromisoformat(cert.expires_on):
        why = (f"证书 {cert.number} 已于 {cert.expires_on} 过期", f"certificate {cert.number} expired on {cert.expires_on}")
    elif day < datetime.date.fromisoformat(cert.issued_on):
        why = (f"证书 {cert.number} 尚未颁发", f"certificate {cert.number} was not yet issued")
    if why:
        flag("part_uncertified", subject, e.index, f"{KIND_ZH.get(e.kind, e.kind)}时 {name} 无有效3C证书：{why[0]}",
             f"{identifier} had no valid CCC certificate at the {e.kind}: {why[1]}")
    elif cert.status != "valid":
        flag("part_uncertified", subject, cert.status_index, f"{name} 的3C证书 {cert.number} 现已{'暂停' if cert.status == 'suspended' else '撤销'}",
             f"{identifier}'s CCC certificate {cert.number} is now {cert.status}")


# --- parties -----------------------------------------------------------------------------


def _parties(b: _Builder, ts: TraceSet, events: list[Event]) -> list[dict]:
    parties: dict[str, dict] = {}
    seen: dict[str, tuple[set, set, set]] = {}

    def add(org_id: str | None, role: str, index: int | None, user: str | None = None) -> None:
        if org_id not in parties:
            ref = b.org_ref(org_id)
            if ref is None:
                return
            parties[org_id] = {"org": ref, "roles": [], "roles_zh": [], "events": [], "users": []}
            seen[org_id] = (set(), set(), set())
        p = parties[org_id]
        roles, indexes, users = seen[org_id]
        if role not in roles:
            roles.add(role)
            p["roles"].append(role)
            p["roles_zh"].append(ROLE_ZH.get(role, role))
        if index is not None and index not in indexes:
            indexes.add(index)
            p["events"].append(index)
        if user and user not in users:
            users.add(user)
            p["users"].append(user)

    for e in sorted(events, key=lambda e: e.index):
        add(e.org, ROLE_OF_KIND.get(e.kind, e.kind), e.index, e.user)
    for s in ts.subjects:
        add(ts.items[s].maker_org_id, "maker", None)
    return sorted(parties.values(), key=lambda p: (min(p["events"]) if p["events"] else -1, p["org"]["name"]))
