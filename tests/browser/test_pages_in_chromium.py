"""The pages in a real browser: scanning at the sale counter, the trace and its bundle, the public code page, languages."""

from __future__ import annotations

import re
import zipfile

import pytest

from tests.conftest import PASSWORD, auth
from tests.web_helpers import make_web_user, token_for

pytestmark = [pytest.mark.browser, pytest.mark.db]

BUYER = {"name": "张三", "id_number": "330206199001011235", "phone": "13800138000"}


def log_in(page, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")


def scan(page, payload: str) -> None:
    """Type a payload into the focused field and press Enter, as a keyboard-wedge scanner does."""
    page.keyboard.type(payload)
    page.keyboard.press("Enter")


@pytest.fixture
def dealer_stock(client, admin_token, make_catalogue):
    """A dealer holding (received) a vehicle, an approved battery, a larger (non-approved) battery and a charger."""
    cat = make_catalogue()
    org, username = make_web_user(client, admin_token, "dealer")
    items = {"vehicle": cat.commission("vehicle")[0], "battery": cat.commission("battery")[0],
             "larger": cat.commission("battery", model=cat.larger_battery_model)[0], "charger": cat.commission("charger")[0]}
    dealer = token_for(username, client)
    for item in items.values():
        body = {item["kind"]: item["identifier"]}
        assert client.post("/api/v1/events", headers=auth(cat.token), json={"kind": "ship", "to": org["id"], **body}).status_code == 201
        assert client.post("/api/v1/events", headers=auth(dealer), json={"kind": "receive", **body}).status_code == 201
    return username, dealer, items


def test_a_dealer_scans_a_set_sees_the_refusal_in_chinese_and_then_sells(page, dealer_stock):
    username, _, items = dealer_stock
    log_in(page, username)
    page.goto("/dealer/sale")
    assert page.evaluate("document.activeElement.id") == "f-vehicle"
    scan(page, items["vehicle"]["code"])
    assert page.evaluate("document.activeElement.id") == "f-battery"
    page.locator("#f-vehicle").locator("xpath=../..").locator(".itemcard").get_by_text("真码").wait_for()
    scan(page, items["larger"]["code"])
    scan(page, items["charger"]["code"])  # the last of the three: the sale is checked
    refusal = page.locator(".refusal")
    refusal.wait_for()
    text = refusal.inner_text()
    assert "销售核验未通过" in text and "不是该车型认可配套的蓄电池型号" in text
    assert items["larger"]["identifier"] in text
    page.fill("#f-battery", "")
    page.focus("#f-battery")
    scan(page, items["battery"]["code"])
    page.locator(".passed").wait_for()
    assert "销售核验通过" in page.locator(".passed").inner_text()
    page.fill("#f-buyer_name", BUYER["name"])
    page.fill("#f-buyer_id_number", BUYER["id_number"])
    page.fill("#f-buyer_phone", BUYER["phone"])
    page.click("button[value=sell]")
    page.locator(".flash.ok").wait_for()
    assert "已售出" in page.locator(".flash.ok").inner_text()
    assert page.locator(".refusal").count() == 0


def test_a_scanner_behind_a_chinese_input_method_still_scans(page, dealer_stock):
    username, _, items = dealer_stock
    log_in(page, username)
    page.goto("/scan")
    ident = items["battery"]["identifier"]
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in ident)
    # An IME composes the scanner's keystrokes and its Enter only commits them (keyCode 229).
    page.evaluate("""(text) => {
        const i = document.activeElement;
        i.dispatchEvent(new CompositionEvent("compositionstart", {data: ""}));
        i.value = text;
        i.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", keyCode: 229, isComposing: true, bubbles: true}));
        i.dispatchEvent(new CompositionEvent("compositionend", {data: text}));
    }""", full_width)
    card = page.locator(".itemcard")
    card.get_by_text(ident).wait_for()
    assert page.input_value("#f-q") == ident
    assert "蓄电池" in card.inner_text()


def test_an_investigator_traces_a_battery_and_downloads_the_evidence_bundle(page, client, admin_token, dealer_stock):
    _, dealer, items = dealer_stock
    r = client.post("/api/v1/events", headers=auth(dealer), json={
        "kind": "sell", "vehicle": items["vehicle"]["identifier"], "battery": items["battery"]["identifier"],
        "charger": items["charger"]["identifier"], "buyer": BUYER})
    assert r.status_code == 201, r.get_json()
    _, username = make_web_user(client, admin_token, "investigator")
    log_in(page, username)
    page.goto("/trace")
    scan(page, items["battery"]["code"])
    page.locator(".timeline").wait_for()
    body = page.locator("main").inner_text()
    assert "时间线" in body and "销售" in body and items["vehicle"]["identifier"] in body
    assert BUYER["id_number"] not in body and "已脱敏" in body
    page.fill("#f-case_number", "仑消调〔2026〕17号")
    page.click("form.search button[type=submit]")
    page.locator("#bundle").wait_for()
    assert BUYER["id_number"] in page.locator("main").inner_text()
    with page.expect_download() as download:
        page.click("#bundle")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(path) as z:
        assert "bundle.json" in z.namelist() and "report.pdf" in z.namelist()


def test_the_public_page_of_a_code_shows_no_personal_data(page, client, admin_token, dealer_stock):
    _, dealer, items = dealer_stock
    assert client.post("/api/v1/events", headers=auth(dealer), json={
        "kind": "sell", "vehicle": items["vehicle"]["identifier"], "battery": items["battery"]["identifier"],
        "charger": items["charger"]["identifier"], "buyer": BUYER}).status_code == 201
    _, clerk = make_web_user(client, admin_token, "registration_point")
    assert client.post("/api/v1/events", headers=auth(token_for(clerk, client)), json={
        "kind": "register", "vehicle": items["vehicle"]["identifier"], "plate": "浙B·A7788",
        "owner": {**BUYER, "id_type": "resident_id"}}).status_code == 201
    for item in ("vehicle", "battery", "charger"):
        token = items[item]["code"].rsplit("/", 1)[1]
        page.goto(f"/c/{token}")
        text = page.locator("body").inner_text()
        assert "真码" in text and items[item]["identifier"] in text
        for secret in (BUYER["name"], BUYER["id_number"], BUYER["phone"], "浙B", "A7788", "330206199"):
            assert secret not in page.content(), (item, secret)
    token = items["vehicle"]["code"].rsplit("/", 1)[1]
    forged = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    page.goto(f"/C/{forged}")
    text = page.locator("body").inner_text()
    assert "伪造" in text and "无效" in text and items["vehicle"]["identifier"] not in text


def test_the_english_switch_turns_every_page_english_and_back(page, client, admin_token):
    _, username = make_web_user(client, admin_token, "registration_point")
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN" and "登录" in page.locator("h1").inner_text()
    page.click("text=English")
    assert page.locator("html").get_attribute("lang") == "en" and page.locator("h1").inner_text() == "Log in"
    log_in(page, username)
    text = page.locator("main").inner_text()
    assert "Register" in text and "Transfer" in text and not re.search("[\u4e00-\u9fff]{2}", page.locator("nav.tasks").inner_text())
    page.click("text=中文")
    assert "登记上牌" in page.locator("main").inner_text()
