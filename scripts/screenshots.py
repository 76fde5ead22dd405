#!/usr/bin/env python3
"""Screenshot every page at phone (390×844) and desktop (1366×900) width from a seeded demo instance.

    scripts/screenshots [--out DIR] [--only SUBSTRING] [--lang zh|en]

Seeds the demo city into a temporary SQLite instance, stocks the first dealer
and repair shop with fresh items (so the counters have something to scan),
serves the app on 127.0.0.1 from a thread and drives Debian's Chromium
(/usr/bin/chromium) through Playwright, logging in as each organisation kind.
Writes ``<name>-phone.png`` and ``<name>-desktop.png`` per page into DIR
(default ./screenshots) and prints one line per file.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import create_app  # noqa: E402
from registry.cli import upgrade  # noqa: E402
from registry.domain.roles import Actor  # noqa: E402
from registry.services import demo  # noqa: E402
from registry.services.lifecycle import record_event  # noqa: E402
from registry.store.models import Item, LogEntry, Organisation, User  # noqa: E402
from schemas.events import SCHEMAS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
#: The battery models the demo's LY-TDT2024 vehicle approves.
APPROVED = ("XH-48V20", "XH-48V24")
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def actor_of(uow, username: str) -> Actor:
    user = uow.session.execute(select(User).where(User.username == username)).scalar_one()
    org = uow.session.get(Organisation, user.org_id)
    return Actor(org.id, org.kind, user.id)


def step(reg, actor: Actor, kind: str, **data) -> None:
    with reg.writing() as uow:
        record_event(uow, actor, kind, SCHEMAS[kind]().load({"kind": kind, **data}))


def stock_up(reg, users: dict) -> dict:
    """Commission fresh items, stock the first dealer and repair shop with them, and return what the pages scan."""
    from registry.services.commissioning import commission_items
    from registry.services.demo_catalogue import ANCHONG, LVYUAN, XINGHENG

    today = time.strftime("%Y-%m-%d")
    wanted = {  # group -> (maker, kind, model, identifiers)
        "vehicle": (LVYUAN, "vehicle", "LY-TDT2024", [f"11732269{n:07d}" for n in range(1, 4)]),
        "battery": (XINGHENG, "battery", "XH-48V20", [f"XHNBF48V2026{900000 + n:06d}" for n in range(1, 4)]),
        "larger": (XINGHENG, "battery", "XH-60V32", ["XHNBH60V2026900001"]),
        "charger": (ANCHONG, "charger", "MA2C1D2E3-26-48", [f"MA2C1D2E3-26-48-{900000 + n:06d}" for n in range(1, 4)]),
        "shop_battery": (XINGHENG, "battery", "XH-48V20", [f"XHNBF48V2026{900100 + n:06d}" for n in range(1, 3)]),
    }
    with reg.reading() as uow:
        dealer, shop = actor_of(uow, users["dealer"]), actor_of(uow, users["repair_shop"])
        makers = {}
        for maker, *_ in wanted.values():
            org = uow.session.execute(select(Organisation).where(Organisation.name == maker)).scalar_one()
            user = uow.session.execute(select(User).where(User.org_id == org.id)).scalars().first()
            makers[maker] = Actor(org.id, "manufacturer", user.id)
    picked: dict[str, list] = {}
    for group, (maker, kind, model, identifiers) in wanted.items():
        with reg.writing() as uow:
            done = commission_items(uow, makers[maker], [
                {"kind": kind, "identifier": i, "model": model, "produced_on": today, "batch": "SHOTS"} for i in identifiers])
        picked[group] = [(c.identifier, c.code) for c in done]
        to = shop if group == "shop_battery" else dealer
        for identifier, _ in picked[group]:
            step(reg, makers[maker], "ship", **{kind: identifier, "to": to.org_id})
            step(reg, to, "receive", **{kind: identifier, "inspection": "passed"})
    # two sets sold today but not yet registered, for the registration desk
    sold = []
    for i, person in ((1, {"name": "陈晓明", "id_number": "330206199203154410", "phone": "13957812345"}),
                      (2, {"name": "林佳怡", "id_number": "330203199508210023", "phone": "13857465321"})):
        v, b, c = picked["vehicle"][i], picked["battery"][i], picked["charger"][i]
        step(reg, dealer, "sell", vehicle=v[0], battery=b[0], charger=c[0], buyer=person)
        sold.append((v, b, c, person))
    return {"picked": picked, "sold_today": sold}


def scenes(reg) -> dict:
    """Find in the city what the public pages and the trace show best."""
    import json

    with reg.reading() as uow:
        registered = uow.session.execute(select(Item).where(Item.kind == "vehicle", Item.state == "registered")
                                          .order_by(Item.subject)).scalars().first()
        old = uow.session.execute(select(Item).where(Item.kind == "battery", Item.state == "installed",
                                                     Item.produced_on.is_not(None)).order_by(Item.produced_on)).scalars().first()
        incident = uow.session.execute(select(LogEntry).where(LogEntry.kind == "report_incident")
                                       .order_by(LogEntry.idx)).scalars().first()
        burnt = None
        if incident is not None:
            body = json.loads(bytes(incident.body))
            burnt = next((s for s in body["prev"] if s.startswith("battery:")), None) or \
                next((s for s in body["prev"] if s.startswith("vehicle:")), None)
        stolen = uow.session.execute(select(Item).where(Item.stolen.is_(True))).scalars().first()
        return {
            "registered": (registered.identifier, registered.code) if registered else None,
            "battery": (old.identifier, old.code) if old else None,
            "stolen": (stolen.identifier, stolen.code) if stolen else None,
            "burnt": burnt,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="screenshots", help="folder for the PNG files (default ./screenshots)")
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"), help="page language (default zh)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    tmp = Path(tempfile.mkdtemp(prefix="yima-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"sqlite:///{tmp}/registry.db"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "instance"), "SIGNING_KEY": str(tmp / "instance/keys/signing.pem"),
                      "PUBLIC_URL": base, "LOG_ORIGIN": "", "SECRET_KEY": "screenshots"})
    reg = app.extensions["registry"]
    t0 = time.monotonic()
    users = demo.seed(reg, echo=lambda *a, **k: None)
    stock = stock_up(reg, users)
    found = scenes(reg)
    print(f"seeded the demo city in {time.monotonic() - t0:.1f} s", file=sys.stderr)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    picked = stock["picked"]
    token = lambda code: code.rsplit("/", 1)[1]  # noqa: E731
    lang = f"lang={args.lang}"

    def q(path: str) -> str:
        return path + ("&" if "?" in path else "?") + lang

    def type_scans(page, *codes):
        for code in codes:
            page.keyboard.type(code)
            page.keyboard.press("Enter")
        page.wait_for_load_state("networkidle")

    def dealer_refused(page, size):
        page.goto(q("/dealer/sale"))
        type_scans(page, picked["vehicle"][0][1], picked["larger"][0][1], picked["charger"][0][1])
        page.locator(".refusal").wait_for()

    def dealer_passed(page, size):
        page.goto(q("/dealer/sale"))
        type_scans(page, picked["vehicle"][0][1], picked["battery"][0][1], picked["charger"][0][1])
        page.locator(".passed").wait_for()

    def scan_card(page, size):
        page.goto(q("/scan"))
        type_scans(page, found["battery"][1] if found["battery"] else picked["battery"][0][1])
        page.locator(".itemcard dl").wait_for()

    def register_filled(page, size, which=0):
        v, b, c, person = stock["sold_today"][which]
        page.goto(q("/registration/register"))
        type_scans(page, v[1], b[1], c[1])
        page.fill("#f-owner_name", person["name"])
        page.fill("#f-owner_id_number", person["id_number"])
        page.fill("#f-owner_phone", person["phone"])
        page.fill("#f-plate", f"浙B·S202{which}")

    def register_done(page, size):
        register_filled(page, size, 0 if size == "phone" else 1)
        page.click("form.panel button[type=submit]")
        page.locator(".flash.ok").wait_for()

    def swap_refused(page, size):
        page.goto(q("/workshop/swap"))
        vehicle = found["registered"][1] if found["registered"] else picked["vehicle"][0][1]
        type_scans(page, vehicle, picked["battery"][1][1], picked["larger"][0][1])
        page.click("form.panel button[type=submit]")
        page.locator(".refusal").wait_for()

    burnt = found["burnt"].split(":", 1)[1] if found["burnt"] else picked["battery"][0][0]
    pages = [
        (None, "index", "/", None),
        (None, "login", "/login", None),
        (None, "code-vehicle", f"/c/{token(found['registered'][1])}" if found["registered"] else None, None),
        (None, "code-battery", f"/c/{token(found['battery'][1])}" if found["battery"] else None, None),
        (None, "code-stolen", f"/C/{token(found['stolen'][1])}" if found["stolen"] else None, None),
        (None, "code-forged", f"/c/{token(picked['vehicle'][0][1])[:-6]}ABCDEF", None),
        ("dealer", "dealer-home", "/home", None),
        ("dealer", "dealer-sale", "/dealer/sale", None),
        ("dealer", "dealer-sale-refused", None, dealer_refused),
        ("dealer", "dealer-sale-passed", None, dealer_passed),
        ("dealer", "dealer-receive", "/stock/receive", None),
        ("dealer", "dealer-ship", "/stock/ship", None),
        ("dealer", "dealer-scan", None, scan_card),
        ("dealer", "error-403", "/regulator/", None),
        ("registration_point", "registration-home", "/home", None),
        ("registration_point", "registration-register", None, register_filled),
        ("registration_point", "registration-registered", None, register_done),
        ("registration_point", "registration-transfer", "/registration/transfer", None),
        ("registration_point", "registration-deregister", "/registration/deregister", None),
        ("registration_point", "registration-backfill", "/registration/backfill", None),
        ("registration_point", "registration-transfer-in", "/registration/transfer-in", None),
        ("investigator", "investigator-stolen", "/stolen", None),
        ("repair_shop", "workshop-home", "/home", None),
        ("repair_shop", "workshop-swap-battery", "/workshop/swap?part=battery", None),
        ("repair_shop", "workshop-swap-refused", None, swap_refused),
        ("repair_shop", "workshop-replace-charger", "/workshop/swap?part=charger", None),
        ("repair_shop", "workshop-repair", "/workshop/repair", None),
        ("recycler", "recycler-intake", "/recycler/", None),
        ("investigator", "investigator-home", "/home", None),
        ("investigator", "investigator-incident", "/incident", None),
        ("investigator", "investigator-trace", f"/trace?q={burnt}", None),
        ("investigator", "investigator-trace-case", f"/trace?q={burnt}&case_number=仑消调〔2026〕17号", None),
        ("regulator", "regulator-home", "/home", None),
        ("regulator", "regulator-dashboard", "/regulator/", None),
        ("regulator", "regulator-recall", "/regulator/recall", None),
        ("regulator", "regulator-certificate", "/regulator/certificate", None),
        ("manufacturer", "manufacturer-home", "/home", None),
    ]
    written = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        contexts = {}
        for role, name, path, action in pages:
            if args.only and args.only not in name:
                continue
            if path is None and action is None:
                print(f"skipped {name}: nothing in the demo city to show", file=sys.stderr)
                continue
            for size, viewport in SIZES.items():
                key = (role, size)
                if key not in contexts:
                    ctx = browser.new_context(base_url=base, viewport=viewport, device_scale_factor=1,
                                              locale="zh-CN" if args.lang == "zh" else "en-US")
                    ctx.set_default_timeout(20000)
                    page = ctx.new_page()
                    if role:
                        page.goto(q("/login"))
                        page.fill("#username", users[role])
                        page.fill("#password", demo.DEMO_PASSWORD)
                        page.click("button[type=submit]")
                        page.wait_for_url("**/home*")
                    contexts[key] = page
                page = contexts[key]
                if action:
                    action(page, size)
                else:
                    page.goto(q(path))
                    page.wait_for_load_state("networkidle")
                target = out / f"{name}-{size}.png"
                page.screenshot(path=str(target), full_page=True)
                written += 1
                print(target)
        browser.close()
    server.shutdown()
    print(f"{written} screenshots in {out}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
