"""The demo city's catalogue and stock: certificates, models with approved pairings, commissioned items."""

from __future__ import annotations

from registry.domain.roles import Actor
from registry.services import catalogue, commissioning

LVYUAN, XINGHENG, ANCHONG, QIDIAN = "宁波绿源电动车有限公司", "浙江星恒电源股份有限公司", "宁波安充电器科技有限公司", "台州骑电车业有限公司"
REGULATOR = "宁波市市场监督管理局"

#: (recorded by, holder, number, product kind, model, issued, expires)
CERTIFICATES = [
    (LVYUAN, LVYUAN, "2026011119000101", "vehicle", "LY-TDT2024", "2026-01-15", "2031-01-14"),
    (REGULATOR, QIDIAN, "2026011119000245", "vehicle", "QD-Q5-2024", "2026-02-10", "2031-02-09"),
    (XINGHENG, XINGHENG, "2026010912000031", "battery", "XH-48V20", "2026-01-05", "2031-01-04"),
    (XINGHENG, XINGHENG, "2026010912000032", "battery", "XH-48V24", "2026-01-05", "2031-01-04"),
    (XINGHENG, XINGHENG, "2026010912000033", "battery", "XH-60V32", "2026-01-05", "2031-01-04"),
    (ANCHONG, ANCHONG, "2026010907000011", "charger", "MA2C1D2E3-26-48", "2026-01-20", "2031-01-19"),
    (ANCHONG, ANCHONG, "2026010907000012", "charger", "MA2C1D2E3-26-60", "2026-01-20", "2031-01-19"),
]

#: (maker, kind, model, certificate, specs, approved batteries, approved chargers)
MODELS = [
    (XINGHENG, "battery", "XH-48V20", "2026010912000031", {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 20, "energy_wh": 960}, [], []),
    (XINGHENG, "battery", "XH-48V24", "2026010912000032", {"chemistry": "lithium_ion", "voltage_v": 48, "capacity_ah": 24, "energy_wh": 1152}, [], []),
    # 增容量: larger than any vehicle model's approved battery, so fitting it is refused.
    (XINGHENG, "battery", "XH-60V32", "2026010912000033", {"chemistry": "lithium_ion", "voltage_v": 60, "capacity_ah": 32, "energy_wh": 1920}, [], []),
    (ANCHONG, "charger", "MA2C1D2E3-26-48", "2026010907000011", {"output_v": "54.6", "output_a": 3}, [], []),
    (ANCHONG, "charger", "MA2C1D2E3-26-60", "2026010907000012", {"output_v": "67.2", "output_a": 3}, [], []),
    (LVYUAN, "vehicle", "LY-TDT2024", "2026011119000101", {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": "54.5"},
     ["XH-48V20", {"model": "XH-48V24", "approval": "mutual"}], ["MA2C1D2E3-26-48"]),
    (QIDIAN, "vehicle", "QD-Q5-2024", "2026011119000245", {"standard": "GB17761-2024", "max_speed_kmh": 25, "mass_kg": 55},
     ["XH-48V20"], ["MA2C1D2E3-26-48"]),
    # 非标车: may be registered only until its transition deadline (过渡期).
    (QIDIAN, "vehicle", "QD-OLD-NS", None, {"standard": "non_standard", "transition_deadline": "2025-12-31", "max_speed_kmh": 32, "mass_kg": 68},
     [{"model": "XH-48V24", "approval": "mutual"}], ["MA2C1D2E3-26-48"]),
]


def _items(kind: str, model: str, fmt: str, n: int, month: int, batch: str) -> list[dict]:
    return [
        {"kind": kind, "identifier": fmt.format(i), "model": model, "produced_on": f"2026-{month:02d}-{1 + i % 27:02d}", "batch": batch}
        for i in range(1, n + 1)
    ]


#: maker -> the items it commissions (a few dozen each)
ITEMS = {
    LVYUAN: _items("vehicle", "LY-TDT2024", "1173226{:08d}", 36, 3, "LY2603"),
    QIDIAN: _items("vehicle", "QD-Q5-2024", "1288226{:08d}", 24, 4, "QD2604")
    + _items("vehicle", "QD-OLD-NS", "1288225{:08d}", 8, 1, "QD2501"),
    XINGHENG: _items("battery", "XH-48V20", "XHNBF48V2026{:06d}", 40, 2, "XH2602")
    + _items("battery", "XH-48V24", "XHNBG48V2026{:06d}", 12, 2, "XH2602B")
    + _items("battery", "XH-60V32", "XHNBH60V2026{:06d}", 8, 2, "XH2602C")
    # reused (梯次利用) batteries: coded, never to go into an e-bike
    + _items("battery", "XH-48V20", "XHNBF48V2025{:06d}-R", 3, 1, "XH-R"),
    ANCHONG: _items("charger", "MA2C1D2E3-26-48", "MA2C1D2E3-26-48-{:06d}", 60, 2, "AC2602")
    + _items("charger", "MA2C1D2E3-26-60", "MA2C1D2E3-26-60-{:06d}", 6, 2, "AC2602B"),
}


def seed_catalogue(registry, actors: dict[str, Actor]) -> int:
    """Record the demo certificates and models and commission the demo items; return how many items."""
    for by, holder, number, kind, model, issued, expires in CERTIFICATES:
        with registry.writing() as uow:
            catalogue.record_certificate(
                uow, actors[by], catalogue.RecordCertificate(number, kind, model, issued, expires, actors[holder].org_id)
            )
    for maker, kind, model, cert, specs, batteries, chargers in MODELS:
        with registry.writing() as uow:
            catalogue.record_model(uow, actors[maker], catalogue.RecordModel(kind, model, specs, cert, batteries, chargers))
    n = 0
    for maker, items in ITEMS.items():
        with registry.writing() as uow:
            n += len(commissioning.commission_items(uow, actors[maker], items))
    return n
