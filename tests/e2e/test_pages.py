"""The pages through the test client: who may open which page, login, CSRF, languages, and forms that call the services."""

from __future__ import annotations

import pytest

from registry.domain.roles import ORG_KINDS
from tests.conftest import auth
from tests.web_helpers import csrf_of, login, make_web_user

pytestmark = pytest.mark.db


def _pages(app):
    """Every page behind a login: (rule, endpoint, methods, kinds allowed; empty = any)."""
    out = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "login_required", False):
            out.append((rule.rule, rule.endpoint, rule.methods & {"GET", "POST"}, view.allowed_kinds))
    return out


def test_every_page_needs_a_login_and_refuses_every_role_that_may_not_use_it(app, client, admin_token):
    pages = _pages(app)
    assert len(pages) >= 18  # home, scan, stock, sale, registration, workshop, recycler, incident, trace, regulator …
    anonymous = app.test_client()
    for rule, endpoint, methods, kinds in pages:
        r = anonymous.get(rule)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), rule
    for kind in ORG_KINDS:
        _, username = make_web_user(client, admin_token, kind)
        c = app.test_client()
        assert login(c, username).status_code == 302
        token = csrf_of(c.get("/home").get_data(as_text=True))
        for rule, endpoint, methods, kinds in pages:
            allowed = not kinds or kind in kinds
            for method in sorted(methods):
                r = c.get(rule) if method == "GET" else c.post(rule, data={"csrf_token": token})
                where = f"{method} {rule} as {kind}"
                if allowed:
                    assert r.status_code != 403, where
                    assert not (r.status_code == 302 and r.headers["Location"].startswith("/login")), where
                else:
                    assert r.status_code == 403, where
                    assert "无权使用此页面" in r.get_data(as_text=True), where


def test_each_roles_menu_links_only_pages_it_may_open(app):
    from registry.web.navigation import TASKS

    for kind, tasks in TASKS.items():
        for task in tasks:
            view = app.view_functions[task.endpoint]
            assert not view.allowed_kinds or kind in view.allowed_kinds, (kind, task.endpoint)


def test_login_refuses_a_wrong_password_in_chinese_and_logs_in_and_out(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "dealer")
    c = app.test_client()
    r = login(c, username, "wrong password")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = login(c, username)
    assert r.status_code == 302 and r.headers["Location"] == "/home"
    home = c.get("/home").get_data(as_text=True)
    assert "扫码销售" in home and username in home
    c.post("/logout", data={"csrf_token": csrf_of(home)})
    assert c.get("/home").status_code == 302


def test_login_goes_on_to_the_page_asked_for_but_never_off_site(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "dealer")
    c = app.test_client()
    assert c.get("/dealer/sale").headers["Location"] == "/login?next=/dealer/sale"
    token = csrf_of(c.get("/login?next=/dealer/sale").get_data(as_text=True))
    from tests.conftest import PASSWORD

    r = c.post("/login?next=/dealer/sale", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/dealer/sale"
    c2 = app.test_client()
    token = csrf_of(c2.get("/login").get_data(as_text=True))
    r = c2.post("/login?next=//evil.example/x", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/home"


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(app, client, admin_token, registry):
    _, username = make_web_user(client, admin_token, "dealer")
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": "x"})
    assert r.status_code == 400 and "text/html" in r.content_type and "表单已过期" in r.get_data(as_text=True)
    login(c, username)
    with registry.reading() as uow:
        before = uow.log.size()
    r = c.post("/stock/receive", data={"item": "117322600000001", "csrf_token": "forged"})
    assert r.status_code == 400
    with registry.reading() as uow:
        assert uow.log.size() == before


def test_session_cookie_is_http_only_and_same_site(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "dealer")
    c = app.test_client()
    r = login(c, username)
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_are_chinese_by_default_and_english_after_the_switch(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "registration_point")
    c = app.test_client()
    login(c, username)
    page = c.get("/registration/register").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "登记上牌" in page and "车主" in page
    r = c.get("/registration/register?lang=en")
    assert "lang=en" in r.headers.get("Set-Cookie", "")
    page = r.get_data(as_text=True)
    assert '<html lang="en">' in page and "Register a vehicle" in page and "Owner" in page and "车主" not in page
    page = c.get("/home").get_data(as_text=True)  # the cookie keeps the choice
    assert "Register" in page and "登记上牌" not in page
    page = c.get("/home?lang=zh").get_data(as_text=True)
    assert "登记上牌" in page


def test_the_public_code_page_switches_language_too(client, make_catalogue):
    cat = make_catalogue()
    token = cat.commission("battery")[0]["code"].rsplit("/", 1)[1]
    assert "真码" in client.get(f"/c/{token}").get_data(as_text=True)
    assert "Genuine code" in client.get(f"/c/{token}?lang=en").get_data(as_text=True)


def test_every_message_of_the_pages_has_a_chinese_translation():
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    with open(root / "registry/translations/zh_CN/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    missing = []
    for filename, _line, message, _comments, _ctx in extract_from_dir(root / "registry/web", method_map, options, keywords):
        msgid = message if isinstance(message, str) else message[0]
        entry = catalogue.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append((filename, msgid))
    assert not missing, missing


#: Names that are the same in every language.
NAMES = ("OpenAPI 3", "yima")


def test_templates_hold_no_untranslated_words():
    """Every word a template shows goes through _() (text between tags is only markup, numbers or data)."""
    import re
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "registry/web/templates"
    text = re.compile(r">([^<>{}]*[A-Za-z\u4e00-\u9fff][^<>{}]*)<")
    for path in folder.glob("*.html"):
        source = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|<style>.*?</style>|<script>.*?</script>|<code>.*?</code>", "", path.read_text(), flags=re.S)
        loose = [m.strip() for m in text.findall(source) if m.strip() not in NAMES]
        assert not loose, (path.name, loose)


# --- forms call the services ----------------------------------------------------------------


@pytest.fixture
def dealer_with_stock(app, client, admin_token, make_catalogue):
    """A dealer (logged in) holding a vehicle, an approved battery, a larger battery and a charger."""
    cat = make_catalogue()
    org, username = make_web_user(client, admin_token, "dealer")
    vehicle, battery, charger = cat.commission("vehicle")[0], cat.commission("battery")[0], cat.commission("charger")[0]
    larger = cat.commission("battery", model=cat.larger_battery_model)[0]
    for item in (vehicle, battery, charger, larger):
        r = client.post("/api/v1/events", headers=auth(cat.token),
                        json={"kind": "ship", item["kind"]: item["identifier"], "to": org["id"]})
        assert r.status_code == 201, r.get_json()
    c = app.test_client()
    login(c, username)
    return c, {"vehicle": vehicle, "battery": battery, "charger": charger, "larger": larger}


def _post(c, path, data):
    token = csrf_of(c.get(path).get_data(as_text=True))
    return c.post(path, data={**data, "csrf_token": token}, follow_redirects=True)


def test_a_dealer_receives_by_scanning_and_sees_todays_list(dealer_with_stock):
    c, items = dealer_with_stock
    page = _post(c, "/stock/receive", {"item": items["vehicle"]["code"], "inspection": "passed"}).get_data(as_text=True)
    assert "已收货" in page and items["vehicle"]["identifier"] in page
    page = _post(c, "/stock/receive", {"item": items["vehicle"]["identifier"]}).get_data(as_text=True)
    assert "未记录" in page  # received twice: refused in Chinese, nothing written


def test_the_sale_page_names_every_failed_rule_in_chinese_then_sells(app, dealer_with_stock, registry):
    c, items = dealer_with_stock
    for k in ("vehicle", "battery", "charger", "larger"):
        _post(c, "/stock/receive", {"item": items[k]["code"]})
    page = _post(c, "/dealer/sale", {"action": "check", "vehicle": items["vehicle"]["code"],
                                     "battery": items["larger"]["code"], "charger": items["charger"]["code"]}).get_data(as_text=True)
    assert "销售核验未通过" in page and "认可" in page
    page = _post(c, "/dealer/sale", {"action": "check", "vehicle": items["vehicle"]["code"],
                                     "battery": items["battery"]["code"], "charger": items["charger"]["code"]}).get_data(as_text=True)
    assert "销售核验通过" in page
    page = _post(c, "/dealer/sale", {"action": "sell", "vehicle": items["vehicle"]["code"], "battery": items["battery"]["code"],
                                     "charger": items["charger"]["code"], "buyer_type": "person", "buyer_name": "张三",
                                     "buyer_id_type": "resident_id", "buyer_id_number": "330206199001011235",
                                     "buyer_phone": "13800138000"}).get_data(as_text=True)
    assert "已售出" in page
    with registry.reading() as uow:
        from registry.store.models import Item

        assert uow.session.get(Item, f"vehicle:{items['vehicle']['identifier']}").state == "sold"


def test_a_refused_registration_shows_each_problem_and_keeps_what_was_typed(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "registration_point")
    c = app.test_client()
    login(c, username)
    r = _post(c, "/registration/register", {"vehicle": "117322699999991", "plate": "浙B·A0001", "owner_name": "李四",
                                           "owner_id_type": "resident_id", "owner_id_number": "330206199001011230"})
    page = r.get_data(as_text=True)
    assert "未记录" in page and "117322699999991" in page and "李四" in page


def test_the_trace_page_shows_the_timeline_and_masks_people_without_a_case_number(app, client, admin_token, dealer_with_stock):
    c, items = dealer_with_stock
    for k in ("vehicle", "battery", "charger"):
        _post(c, "/stock/receive", {"item": items[k]["code"]})
    _post(c, "/dealer/sale", {"action": "sell", "vehicle": items["vehicle"]["code"], "battery": items["battery"]["code"],
                              "charger": items["charger"]["code"], "buyer_type": "person", "buyer_name": "张三",
                              "buyer_id_type": "resident_id", "buyer_id_number": "330206199001011235"})
    _, username = make_web_user(client, admin_token, "investigator")
    inv = app.test_client()
    login(inv, username)
    page = inv.get("/trace", query_string={"q": items["battery"]["code"]}).get_data(as_text=True)
    assert "时间线" in page and "销售" in page and items["vehicle"]["identifier"] in page
    assert "330206199001011235" not in page and "张三" not in page and "已脱敏" in page
    page = inv.get("/trace", query_string={"q": items["battery"]["code"], "case_number": "仑消调〔2026〕1号"}).get_data(as_text=True)
    assert "330206199001011235" in page and "本次查看已留痕" in page


def test_the_regulator_dashboard_draws_its_charts_as_inline_svg(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "regulator")
    c = app.test_client()
    login(c, username)
    page = c.get("/regulator/").get_data(as_text=True)
    assert page.count("<svg") >= 2 and "查清率" in page and "近12个月登记数量" in page


def test_the_qr_decoder_is_served_from_node_modules_when_installed(client):
    from registry.web import JSQR

    with client.get("/vendor/jsQR.js") as r:
        if (JSQR / "jsQR.js").is_file():
            assert r.status_code == 200 and r.mimetype == "text/javascript" and b"jsQR" in r.data
        else:
            assert r.status_code == 404



def test_a_registration_point_codes_a_bike_on_the_road_and_prints_its_labels(app, client, admin_token):
    _, username = make_web_user(client, admin_token, "registration_point")
    c = app.test_client()
    login(c, username)
    r = _post(c, "/registration/backfill", {"vehicle": "LEGACY0042A", "battery": "OLDBAT778", "plate": "浙B·L0042",
                                           "owner_name": "王伟", "owner_id_type": "resident_id",
                                           "owner_id_number": "330206199001011235"})
    page = r.get_data(as_text=True)
    assert "已补码登记" in page and "LEGACY0042A" in page
    with c.get("/registration/plate-label", query_string={"kind": "battery", "item": "OLDBAT778"}) as label:
        assert label.status_code == 200 and label.mimetype == "image/png"
    with c.get("/registration/plate-label", query_string={"vehicle": "LEGACY0042A"}) as label:
        assert label.status_code == 200 and label.mimetype == "image/png"


def test_an_investigator_reports_a_vehicle_stolen_and_its_code_page_warns(app, client, admin_token, make_catalogue):
    cat = make_catalogue()
    vehicle = cat.commission("vehicle")[0]
    _, username = make_web_user(client, admin_token, "investigator")
    c = app.test_client()
    login(c, username)
    page = _post(c, "/stolen", {"action": "report_stolen", "vehicle": vehicle["code"], "case_number": "甬公刑〔2026〕8号"})
    assert "已报告被盗" in page.get_data(as_text=True)
    assert "被盗" in client.get(f"/c/{vehicle['code'].rsplit('/', 1)[1]}").get_data(as_text=True)
    page = _post(c, "/stolen", {"action": "report_recovered", "vehicle": vehicle["identifier"]})
    assert "已报告找回" in page.get_data(as_text=True)
