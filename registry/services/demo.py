"""A small, realistic demo city: organisations of every kind and their users, a catalogue, and its life."""

from __future__ import annotations

from registry.domain.roles import Actor
from registry.services import orgs
from registry.services.demo_catalogue import seed_catalogue
from registry.services.demo_lifecycle import seed_lifecycle

DEMO_PASSWORD = "demo-pass-2026"

# Ningbo (宁波) districts by GB/T 2260 code.
DISTRICTS = {"330203": "海曙", "330205": "江北", "330206": "北仑", "330211": "镇海", "330212": "鄞州", "330213": "奉化"}

ORGS = [
    ("manufacturer", "宁波绿源电动车有限公司", "91330206MA2H3K8L1X", "330206"),
    ("manufacturer", "浙江星恒电源股份有限公司", "91330500MA2B7C6D4Y", "330212"),
    ("manufacturer", "宁波安充电器科技有限公司", "91330203MA2C1D2E3Z", "330203"),
    ("manufacturer", "台州骑电车业有限公司", "91331000MA2D4E5F6W", "330211"),
    ("dealer", "北仑新碶电动车专卖店", "JY33020600001", "330206"),
    ("dealer", "鄞州钟公庙电动车行", "JY33021200002", "330212"),
    ("dealer", "海曙鼓楼电动车销售部", "JY33020300003", "330203"),
    ("dealer", "江北庄桥电动车商行", "JY33020500004", "330205"),
    ("dealer", "镇海骆驼电动车店", "JY33021100005", "330211"),
    ("registration_point", "北仑交警大队新碶登记点", "GA330206-01", "330206"),
    ("registration_point", "鄞州交警大队登记点", "GA330212-01", "330212"),
    ("registration_point", "海曙交警大队登记点", "GA330203-01", "330203"),
    ("repair_shop", "北仑小港电动车维修部", "WX33020600001", "330206"),
    ("repair_shop", "鄞州下应电动车维修店", "WX33021200002", "330212"),
    ("repair_shop", "海曙望春电动车维修点", "WX33020300003", "330203"),
    ("swap_operator", "宁波e换电运营有限公司", "HD33020000001", "330212"),
    ("swap_operator", "骑手快换能源服务有限公司", "HD33020000002", "330206"),
    ("recycler", "宁波再生资源回收有限公司", "HS33020600001", "330206"),
    ("recycler", "浙东废旧电池拆解有限公司", "HS33021100002", "330211"),
    ("investigator", "北仑区消防救援大队", "XF330206", "330206"),
    ("investigator", "宁波市公安局交通警察支队", "GA330200", "330212"),
    ("regulator", "宁波市市场监督管理局", "SJ330200", "330212"),
    ("regulator", "宁波市经济和信息化局", "JX330200", "330212"),
]


def _more_shops():
    """Dealers and repair shops in every district, as a real city has."""
    n = 6
    for code, name in DISTRICTS.items():
        for kind, label, prefix in (("dealer", "电动车行", "JY"), ("repair_shop", "电动车维修部", "WX")):
            for _ in range(3):
                n += 1
                yield kind, f"{name}区第{n}号{label}", f"{prefix}{code}{n:05d}", code


def seed(registry, echo=print, people: list | None = None) -> dict:
    """Create the admin and the demo organisations with one user each, the catalogue and the city's
    life; return the usernames (and add everyone the city made up to *people*, when given)."""
    users = {}
    actors = {}
    with registry.writing() as uow:
        admin = orgs.create_admin(uow, "admin", DEMO_PASSWORD)
    users["admin"] = admin.username
    hashed = admin.password_hash  # every demo user has the same password: hash it once (scrypt is slow on purpose)
    with registry.writing() as uow:  # one unit of work, one checkpoint for the organisations
        uow.start_batch()
        for i, (kind, name, licence, region) in enumerate([*ORGS, *_more_shops()]):
            org, _ = orgs.register_organisation(uow, None, orgs.RegisterOrganisation(name, kind, licence, region))
            username = f"{kind}{i:02d}"
            user = orgs.add_user(uow, None, org.id, username, DEMO_PASSWORD, password_hash=hashed)
            users.setdefault(kind, username)
            actors[name] = Actor(org.id, kind, user.id)
        uow.finish()
    seed_catalogue(registry, actors)
    life = seed_lifecycle(registry, actors, ORGS, echo)
    with registry.reading() as uow:
        size = uow.log.size()
    echo(f"demo city seeded: {size} log entries ({life['recorded']} lifecycle events, {len(life['refused'])} refused "
         f"attempts that wrote nothing); every user's password is {DEMO_PASSWORD!r}")
    for kind, username in users.items():
        echo(f"  {kind:<20} {username}")
    if people is not None:
        people.extend(life["people"])
    return users
