"""The demo city's life: stock shipped and received, sets sold and registered, fleets, repairs and
swaps, a recall, a suspended certificate, thefts and a fire, assessments, transfers, scrapping and
recycling, bikes already on the road coded (补码) — and the attempts the rules refuse, printed.

Every step goes through :func:`registry.services.lifecycle.record_event` as the organisation that
takes it, with the body an HTTP client would send (loaded by the same schema). Each phase is one
unit of work with one checkpoint; each refused attempt its own, rolled back.
"""

from __future__ import annotations

import datetime
import random
from collections import defaultdict
from contextlib import contextmanager

from stdnum.cn import ric

from registry.domain.errors import DomainError
from registry.domain.roles import Actor
from registry.services.demo_catalogue import ANCHONG, ITEMS, LVYUAN, QIDIAN, REGULATOR, XINGHENG
from registry.services.lifecycle import record_event
from schemas.events import SCHEMAS

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "浩然", "宇轩", "欣怡", "子涵", "梓轩", "雨桐", "佳怡", "晨曦", "俊杰"]


def _identifiers(maker: str, model: str) -> list[str]:
    return [i["identifier"] for i in ITEMS[maker] if i["model"] == model]


class City:
    """The organisations by name and the helpers that record their steps."""

    def __init__(self, registry, actors: dict[str, Actor], echo, orgs: list[tuple[str, str, str, str]]):
        self.registry = registry
        self.actors = actors
        self.echo = echo
        self.rng = random.Random(2026)
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, name, _, _ in orgs:
            by_kind[kind].append(name)
        self.dealers = by_kind["dealer"][:5]
        self.points = by_kind["registration_point"][:3]
        self.shops = by_kind["repair_shop"][:3]
        self.operators = by_kind["swap_operator"][:2]
        self.recyclers = by_kind["recycler"][:2]
        self.fire, self.police = by_kind["investigator"][:2]
        self.regulator = REGULATOR
        self.refused: list[tuple[str, str, list[str]]] = []
        self.recorded = 0
        self.clock = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=180)
        self._plates = 0
        #: Everyone the city made up (their details go to the vault, never to the log).
        self.people: list[dict] = []

    # -- plumbing ----------------------------------------------------------------------------

    def org_id(self, name: str) -> str:
        return self.actors[name].org_id

    def at(self, days: float) -> None:
        """Move the city's clock *days* on (steps are dated in order, never in the future)."""
        self.clock += datetime.timedelta(days=days)

    def _body(self, kind: str, data: dict) -> dict:
        self.clock += datetime.timedelta(minutes=7)
        moment = min(self.clock, datetime.datetime.now(datetime.timezone.utc))
        body = {"kind": kind, "occurred_at": moment.isoformat(timespec="seconds"), **data}
        return SCHEMAS[kind]().load(body)

    @contextmanager
    def phase(self, title: str):
        """One unit of work (one checkpoint) for a phase's steps; yields ``step(who, kind, **data)``."""
        with self.registry.writing() as uow:
            uow.start_batch()
            done = []

            def step(who: str, kind: str, **data):
                appended = record_event(uow, self.actors[who], kind, self._body(kind, data))
                done.append(appended)
                return appended

            yield step
            uow.finish()
        self.recorded += len(done)
        self.echo(f"  {title}: {len(done)} events")

    def attempt(self, what: str, who: str, kind: str, **data) -> None:
        """Try a step the rules must refuse; print the refusal and its problems (nothing is written)."""
        with self.registry.writing() as uow:
            try:
                record_event(uow, self.actors[who], kind, self._body(kind, data))
            except DomainError as err:
                codes = [p.code for p in err.problems] or sorted(err.errors)
                self.refused.append((what, err.code, codes))
                self.echo(f"  refused  {what}: {err.status} {err.code}" + (f" [{', '.join(codes)}]" if codes else ""))
                return
        raise RuntimeError(f"the demo expected this to be refused: {what}")

    def person(self) -> dict:
        """A resident with a valid ID card number (GB 11643 check digit) and a mobile number."""
        rng = self.rng
        region = rng.choice(["330203", "330205", "330206", "330211", "330212", "330213"])
        born = datetime.date(1962, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 42))
        body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
        person = {"name": rng.choice(SURNAMES) + rng.choice(GIVEN), "id_number": body + ric.calc_check_digit(body + "0"),
                  "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"}
        self.people.append(person)
        return person

    def plate(self) -> str:
        self._plates += 1
        return f"浙B·{'DFGHJKLMN'[self._plates % 9]}{1000 + self._plates * 7 % 9000:04d}"


def seed_lifecycle(registry, actors: dict[str, Actor], orgs, echo=print) -> dict:
    """Drive the demo city through its lifecycle; return what was recorded and refused."""
    city = City(registry, actors, echo, orgs)
    ly = _identifiers(LVYUAN, "LY-TDT2024")
    qd = _identifiers(QIDIAN, "QD-Q5-2024")
    b20 = _identifiers(XINGHENG, "XH-48V20")
    b24 = _identifiers(XINGHENG, "XH-48V24")
    big = _identifiers(XINGHENG, "XH-60V32")
    reused = [i["identifier"] for i in ITEMS[XINGHENG] if i["identifier"].endswith("-R")]
    c48 = _identifiers(ANCHONG, "MA2C1D2E3-26-48")
    d, rp, rs, so, rc = city.dealers, city.points, city.shops, city.operators, city.recyclers

    # 34 complete sets for the dealers; 6 battery-free sets for the swap operators' fleets (车电分离)
    sets = []
    for i in range(34):
        vehicle = ly[i] if i < 20 else qd[i - 20]
        battery = b24[i] if i < 4 else b20[i - 4]
        sets.append((d[i % 5], vehicle, battery, c48[i]))
    fleet = [(d[i % 2], ly[20 + i], c48[34 + i]) for i in range(6)]
    spare_vehicle, spare_charger = ly[26], c48[40]

    echo("demo city lifecycle:")
    with city.phase("positive list (正面清单): the four makers") as step:
        for maker in (LVYUAN, XINGHENG, ANCHONG, QIDIAN):
            step(city.regulator, "list_change", list="positive", organisation=city.org_id(maker), action="add",
                 reason="符合电动自行车生产企业规范条件")

    city.at(5)
    shipments: list[tuple[str, str, str, str]] = []  # (maker, kind, identifier, to)
    for dealer, vehicle, battery, charger in sets:
        shipments += [(LVYUAN if vehicle in ly else QIDIAN, "vehicle", vehicle, dealer), (XINGHENG, "battery", battery, dealer),
                      (ANCHONG, "charger", charger, dealer)]
    for dealer, vehicle, charger in fleet:
        shipments += [(LVYUAN, "vehicle", vehicle, dealer), (ANCHONG, "charger", charger, dealer)]
    shipments += [(LVYUAN, "vehicle", spare_vehicle, d[0]), (ANCHONG, "charger", spare_charger, d[0]),
                  (XINGHENG, "battery", big[0], d[0]), (XINGHENG, "battery", reused[0], d[0])]
    shop_stock = {rs[0]: [b24[4], b24[5], b24[6]], rs[1]: [b24[7], big[1]]}
    for shop, batteries in shop_stock.items():
        shipments += [(XINGHENG, "battery", b, shop) for b in batteries]
    shipments += [(ANCHONG, "charger", c48[41], rs[0]), (ANCHONG, "charger", c48[42], rs[0])]
    fleet_batteries = {so[0]: b20[30:36], so[1]: b20[36:40]}
    for operator, batteries in fleet_batteries.items():
        shipments += [(XINGHENG, "battery", b, operator) for b in batteries]
    with city.phase("shipping (发货) from the makers") as step:
        # a wrong shipment, voided by its maker (更正: did not occur)
        wrong = step(LVYUAN, "ship", vehicle=ly[30], to=city.org_id(d[4]))
        step(LVYUAN, "correction", corrects=wrong.event_id, reason="did_not_occur", note="发错网点")
        for maker, kind, identifier, to in shipments:
            step(maker, "ship", **{kind: identifier}, to=city.org_id(to))
    city.at(2)
    with city.phase("receiving (进货检查验收)") as step:
        for _, kind, identifier, to in shipments:
            step(to, "receive", **{kind: identifier}, inspection="passed")

    city.at(7)
    echo("  the sale check (扫码核验) refuses:")
    buyer = city.person()
    city.attempt("a larger, non-approved battery sold with the bike (增容量)", d[0], "sell",
                 vehicle=spare_vehicle, battery=big[0], charger=spare_charger, buyer=buyer)
    city.attempt("a bike sold without its battery (拆分销售)", d[0], "sell", vehicle=spare_vehicle, charger=spare_charger, buyer=buyer)
    city.attempt("a reused (梯次利用) battery in an e-bike", d[0], "sell", vehicle=spare_vehicle, battery=reused[0],
                 charger=spare_charger, buyer=buyer)
    city.attempt("another dealer selling stock it does not hold", d[1], "sell", vehicle=sets[0][1], battery=sets[0][2],
                 charger=sets[0][3], buyer=buyer)
    owners = {}
    with city.phase("sales (标配销售) of complete sets, and battery-free sales to swap operators") as step:
        for dealer, vehicle, battery, charger in sets:
            owners[vehicle] = city.person()
            step(dealer, "sell", vehicle=vehicle, battery=battery, charger=charger, buyer=owners[vehicle])
            city.at(0.5)
        for i, (dealer, vehicle, charger) in enumerate(fleet):
            step(dealer, "sell", vehicle=vehicle, charger=charger, buyer_org=city.org_id(so[i % 2]))

    city.at(3)
    registered = [v for _, v, _, _ in sets[:30]]
    plates = {}
    city.attempt("a dealer registering a bike (only registration points register)", d[0], "register",
                 vehicle=registered[0], plate="浙B·A0001", owner=owners[registered[0]])
    with city.phase("registrations (合体登记, 码牌合一) with plates") as step:
        for i, vehicle in enumerate(registered):
            plates[vehicle] = city.plate()
            step(rp[i % 3], "register", vehicle=vehicle, plate=plates[vehicle], owner=owners[vehicle])
            city.at(0.3)
        for i, (_, vehicle, _) in enumerate(fleet):  # fleet bikes: registered without a battery, to their riders
            step(rp[i % 3], "register", vehicle=vehicle, plate=city.plate(), owner=city.person())
    city.attempt("a plate already in use (written without its dot)", rp[1], "register", vehicle=sets[30][1],
                 plate=plates[registered[0]].replace("·", ""), owner=owners[sets[30][1]])
    city.attempt("an owner whose ID card number fails its check digit", rp[1], "register", vehicle=sets[31][1],
                 plate="浙B·Z9999", owner={**owners[sets[31][1]], "id_number": owners[sets[31][1]]["id_number"][:-1]
                                            + ("1" if owners[sets[31][1]]["id_number"][-1] != "1" else "2")})

    city.at(10)
    with city.phase("swap operators (共享换电) fit batteries to battery-free bikes, then swap at volume") as step:
        installed = {}
        pools = {op: list(batteries) for op, batteries in fleet_batteries.items()}
        for i, (_, vehicle, _) in enumerate(fleet):
            op = so[i % 2]
            installed[vehicle] = pools[op].pop(0)
            step(op, "swap_battery", vehicle=vehicle, new_battery=installed[vehicle])
        for rnd in range(3):
            city.at(1)
            for i, (_, vehicle, _) in enumerate(fleet):
                op = so[i % 2]
                if not pools[op]:
                    continue
                new = pools[op].pop(0)
                step(op, "swap_battery", vehicle=vehicle, old_battery=installed[vehicle], new_battery=new)
                pools[op].append(installed[vehicle])  # the removed battery goes round the fleet
                installed[vehicle] = new

    city.at(14)
    ly_registered = [v for v in registered if v in ly]
    removed = []
    city.attempt("a larger battery fitted at a repair shop (增容量)", rs[1], "swap_battery", vehicle=ly_registered[5],
                 old_battery=dict((v, b) for _, v, b, _ in sets)[ly_registered[5]], new_battery=big[1])
    with city.phase("repair shops (维修点): repairs, battery swaps, a charger replacement") as step:
        batteries = {v: b for _, v, b, _ in sets}
        chargers = {v: c for _, v, _, c in sets}
        for vehicle in registered[10:14]:
            step(rs[len(removed) % 3], "repair", vehicle=vehicle, work=city.rng.choice(["更换刹车片", "更换内胎", "调整链条", "更换车灯"]))
        for vehicle, new in ((ly_registered[4], b24[4]), (ly_registered[6], b24[5])):
            step(rs[0], "swap_battery", vehicle=vehicle, old_battery=batteries[vehicle], new_battery=new)
            removed.append(("battery", batteries[vehicle], rs[0]))
        step(rs[1], "swap_battery", vehicle=ly_registered[5], old_battery=batteries[ly_registered[5]], new_battery=b24[7])
        removed.append(("battery", batteries[ly_registered[5]], rs[1]))
        step(rs[0], "replace_charger", vehicle=ly_registered[7], old_charger=chargers[ly_registered[7]], new_charger=c48[41])
        removed.append(("charger", chargers[ly_registered[7]], rs[0]))
        step(rs[0], "assess_battery", battery=batteries[ly_registered[8]], result="passed", capacity_pct=91)
    with city.phase("removed parts shipped to recyclers (回收网点)") as step:
        for kind, identifier, shop in removed:
            step(shop, "ship", **{kind: identifier}, to=city.org_id(rc[0]))
        for kind, identifier, _ in removed:
            step(rc[0], "receive", **{kind: identifier}, inspection="passed")

    city.at(20)
    with city.phase("regulators: a recall by production dates, remedies, a certificate suspended") as step:
        recall = step(city.regulator, "recall", model="QD-Q5-2024", produced_from="2026-04-05", produced_to="2026-04-12",
                      reason="前叉焊接强度不足（2026年4月5日至12日生产）")
        recall_id = recall.body["data"]["recall"]
        for vehicle in qd[4:6]:
            step(QIDIAN, "recall_remedy", recall=recall_id, vehicle=vehicle, remedy="repaired")
        step(city.regulator, "certificate_status", certificate="2026010912000032", status="suspended",
             reason="监督抽查：容量虚标")
    city.attempt("a battery whose CCC certificate is suspended fitted at a repair shop", rs[0], "swap_battery",
                 vehicle=ly_registered[9], old_battery=batteries[ly_registered[9]], new_battery=b24[6])

    city.at(12)
    with city.phase("police and fire (公安 / 消防): thefts, a fire, a modification") as step:
        step(rp[0], "report_stolen", vehicle=registered[15], case_number="甬公（北）立字〔2026〕311号")
        step(city.police, "report_stolen", vehicle=registered[16], case_number="甬公（鄞）立字〔2026〕97号")
        city.at(4)
        step(city.police, "report_recovered", vehicle=registered[16], case_number="甬公（鄞）立字〔2026〕97号")
        step(city.police, "report_modification", vehicle=registered[17], modification="speed_limiter_removed")
        step(city.fire, "report_incident", vehicle=registered[18], battery=batteries[registered[18]], incident_type="fire",
             occurred_at=city.clock.isoformat(timespec="seconds"), region="330206", address="新碶街道某小区3幢楼道",
             state="charging", casualties={"dead": 0, "injured": 1}, case_number="仑消调〔2026〕17号",
             scene_identifiers=[batteries[registered[18]][:12], registered[18][:10]])

    city.at(9)
    with city.phase("owners change: transfers (过户), a deregistration, scrapping (报废)") as step:
        for vehicle in registered[20:22]:
            step(rp[2], "transfer", vehicle=vehicle, new_owner=city.person())
        step(rp[1], "deregister", vehicle=registered[23], reason="moved_away")
        step(rp[1], "deregister", vehicle=registered[22], reason="scrapped")
        step(rc[1], "scrap", vehicle=registered[22])
        removed += [("battery", batteries[registered[22]], rc[1]), ("charger", chargers[registered[22]], rc[1])]

    city.at(6)
    with city.phase("end of life: assessment, retirement (退役), recycling (拆解回收)") as step:
        step(rc[0], "assess_battery", battery=removed[0][1], result="failed", capacity_pct=58)
        for kind, identifier, holder in removed:
            holder = holder if holder in rc else rc[0]  # parts from the shops were shipped to the first recycler
            step(holder, "retire", **{kind: identifier}, reason="end_of_life" if kind == "charger" else "failed_assessment")
        for kind, identifier, _ in removed[:3]:
            step(rc[0], "recycle", **{kind: identifier}, method="material_recovery")

    city.at(5)
    with city.phase("bikes already on the road coded (补码), legacy identifiers flagged") as step:
        for n, (vehicle, battery, charger) in enumerate((("NB2019AX7731", "TTLB48V12AH0093", "CHG2018XY551"),
                                                         ("YD2020KM0412", "CW60V20AH7788", None),
                                                         ("1173221900003127", None, None))):
            body = {"vehicle": vehicle, "plate": city.plate(), "owner": city.person()}
            if battery:
                body["battery"] = battery
            if charger:
                body["charger"] = charger
            step(rp[n % 3], "backfill", **body)
    city.attempt("a non-standard bike (非标车) coded after its transition period", rp[0], "backfill",
                 vehicle="QDNS20190088", vehicle_model="QD-OLD-NS", plate=city.plate(), owner=city.person())
    return {"recorded": city.recorded, "refused": city.refused, "people": city.people}
