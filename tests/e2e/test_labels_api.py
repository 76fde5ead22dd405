"""Labels: one PNG or SVG per item, A4 sheets, thermal rolls; every printed code scans and resolves."""

from __future__ import annotations

import glob
import io
import shutil
import subprocess
import zipfile

import pytest
import zxingcpp
from PIL import Image

from tests.conftest import auth, unavailable

pytestmark = pytest.mark.db


def decode(image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def resolve(client, payload: str) -> dict:
    """Look a scanned payload up the way a phone does: the token is the last path segment."""
    a = client.get(f"/api/v1/codes/{payload.rsplit('/', 1)[1]}").get_json()
    assert a == client.get("/api/v1/codes", query_string={"q": payload}).get_json()
    return a


def pdf_pages(pdf: bytes, tmp_path, dpi: int = 200) -> list[str]:
    if shutil.which("pdftoppm") is None:
        unavailable("pdftoppm not installed (apt-get install -y poppler-utils)")
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(tmp_path / "sheet.pdf"), str(tmp_path / "page")], check=True, timeout=120)
    return sorted(glob.glob(str(tmp_path / "page*.png")))


def test_a_label_png_scans_and_resolves_to_its_item(client, make_catalogue):
    cat = make_catalogue()
    (battery,) = cat.commission("battery")
    r = client.get(f"/api/v1/items/battery/{battery['identifier']}/label.png", headers=auth(cat.token))
    assert r.status_code == 200 and r.mimetype == "image/png"
    with Image.open(io.BytesIO(r.data)) as img:
        (payload,) = decode(img)
    assert payload.lower() == battery["code"].lower()
    a = resolve(client, payload)
    assert a["genuine"] is True and (a["kind"], a["identifier"]) == ("battery", battery["identifier"])


def test_a_label_svg_carries_the_payload_and_the_identifier(client, make_catalogue):
    cat = make_catalogue()
    (charger,) = cat.commission("charger")
    r = client.get(f"/api/v1/items/charger/{charger['code']}/label.svg", headers=auth(cat.token))
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    svg = r.get_data(as_text=True)
    assert charger["code"] in svg and charger["identifier"].split("-")[-1] in svg


def test_every_label_of_a_24_label_pdf_sheet_scans_at_200_dpi_and_resolves_to_its_item(client, make_catalogue, tmp_path):
    cat = make_catalogue()
    items = cat.commission("vehicle", 8) + cat.commission("battery", 8) + cat.commission("charger", 8)
    r = client.post("/api/v1/labels", json={"items": [{"kind": i["kind"], "identifier": i["identifier"]} for i in items]}, headers=auth(cat.token))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    (page,) = pdf_pages(r.data, tmp_path, 200)
    with Image.open(page) as img:
        assert img.size == (1654, 2339)  # one A4 page at 200 dpi
        found = decode(img)
    assert len(found) == 24
    resolved = {(a["kind"], a["identifier"]) for a in (resolve(client, p) for p in found) if a["genuine"]}
    assert resolved == {(i["kind"], i["identifier"]) for i in items}


def test_a_sheet_takes_a_layout_and_refuses_one_that_does_not_fit(client, make_catalogue, tmp_path):
    cat = make_catalogue()
    items = [{"kind": "vehicle", "identifier": i["identifier"]} for i in cat.commission("vehicle", 5)]
    r = client.post("/api/v1/labels", json={"items": items, "layout": {"cols": 2, "rows": 2, "label_w_mm": 90, "label_h_mm": 50}}, headers=auth(cat.token))
    assert r.status_code == 200
    assert len(pdf_pages(r.data, tmp_path, 30)) == 2
    r = client.post("/api/v1/labels", json={"items": items, "layout": {"cols": 3, "label_w_mm": 90}}, headers=auth(cat.token))
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_layout"
    r = client.post("/api/v1/labels", json={"items": items, "layout": {"cols": 10, "rows": 30}}, headers=auth(cat.token))
    assert r.status_code == 422
    r = client.post("/api/v1/labels", json={"items": items, "layout": {"cols": 0}}, headers=auth(cat.token))
    assert r.status_code == 422 and "layout.cols" in r.get_json()["errors"]


def test_thermal_roll_labels_come_as_png_pages_or_zpl(client, make_catalogue):
    cat = make_catalogue()
    items = [{"kind": i["kind"], "identifier": i["identifier"]} for i in cat.commission("battery", 2)]
    r = client.post("/api/v1/labels", json={"items": items, "format": "png", "layout": {"dpi": 300}}, headers=auth(cat.token))
    assert r.status_code == 200 and r.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        names = z.namelist()
        assert len(names) == 2
        with Image.open(io.BytesIO(z.read(names[0]))) as img:
            assert img.size == (472, 354)  # 40 x 30 mm at 300 dpi
            assert len(decode(img)) == 1
    r = client.post("/api/v1/labels", json={"items": items[:1], "format": "png"}, headers=auth(cat.token))
    assert r.mimetype == "image/png"
    r = client.post("/api/v1/labels", json={"items": items, "format": "zpl"}, headers=auth(cat.token))
    assert r.status_code == 200 and r.get_data(as_text=True).count("^XA") == 2


def test_only_the_maker_prints_its_items_labels(client, make_catalogue, make_org):
    cat = make_catalogue()
    other = make_catalogue()
    (vehicle,) = cat.commission("vehicle")
    path = f"/api/v1/items/vehicle/{vehicle['identifier']}/label.png"
    r = client.get(path, headers=auth(other.token))
    assert r.status_code == 403 and r.get_json()["code"] == "not_your_item"
    _, dealer = make_org("dealer")
    assert client.get(path, headers=auth(dealer)).status_code == 403
    r = client.post("/api/v1/labels", json={"garbage": True}, headers=auth(dealer))
    assert r.status_code == 403
    r = client.post("/api/v1/labels", json={"items": [{"kind": "vehicle", "identifier": vehicle["identifier"]}]}, headers=auth(other.token))
    assert r.status_code == 403 and r.get_json()["problems"][0]["subject"] == "items.0"


def test_a_registration_point_prints_plate_labels_only(client, make_catalogue, make_org):
    cat = make_catalogue()
    (vehicle,) = cat.commission("vehicle")
    _, point = make_org("registration_point")
    r = client.get(f"/api/v1/items/vehicle/{vehicle['identifier']}/label.png", headers=auth(point))
    assert r.status_code == 409 and r.get_json()["code"] == "label_not_available"


def test_labels_for_unknown_or_invalid_items_name_each_by_position(client, make_catalogue):
    cat = make_catalogue()
    (vehicle,) = cat.commission("vehicle")
    items = [{"kind": "vehicle", "identifier": vehicle["identifier"]}, {"kind": "vehicle", "identifier": "117322699999990"}, {"kind": "vehicle", "identifier": "11-22"}]
    r = client.post("/api/v1/labels", json={"items": items}, headers=auth(cat.token))
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"items.1.identifier", "items.2.identifier"}


def test_flask_labels_writes_a_sheet_from_identifiers_or_a_file(runner, make_catalogue, tmp_path):
    cat = make_catalogue()
    items = cat.commission("vehicle", 2) + cat.commission("charger", 1)
    out = tmp_path / "out.pdf"
    result = runner.invoke(args=["labels", "--kind", "vehicle", "--identifier", items[0]["identifier"], "--identifier", items[1]["code"], "--format", "pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    listing = tmp_path / "items.txt"
    listing.write_text("kind,identifier\n" + "\n".join(f"{i['kind']},{i['identifier']}" for i in items) + "\n" + items[2]["code"] + "\n")
    result = runner.invoke(args=["labels", "--from-file", str(listing), "--format", "zpl", "-o", str(tmp_path / "out.zpl")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.zpl").read_text().count("^XA") == 4
    result = runner.invoke(args=["labels", "--kind", "vehicle", "--identifier", "117322699999990", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "item" in result.output.lower()


@pytest.mark.parametrize("page", ["A4", "A5", "A3", "Letter"])
def test_every_page_size_prints(client, make_catalogue, page):
    cat = make_catalogue()
    items = [{"kind": "vehicle", "identifier": i["identifier"]} for i in cat.commission("vehicle", 1)]
    r = client.post("/api/v1/labels", json={"items": items, "layout": {"page": page, "cols": 2, "rows": 4}}, headers=auth(cat.token))
    assert r.status_code == 200 and r.data.startswith(b"%PDF")


def test_no_layout_produces_a_server_error(client, make_catalogue):
    import random

    cat = make_catalogue()
    items = [{"kind": i["kind"], "identifier": i["identifier"]} for i in cat.commission("battery", 2)]
    rnd = random.Random(20261123)
    ranges = (("cols", 0, 11), ("rows", 0, 31), ("label_w_mm", 5, 310), ("label_h_mm", 5, 310), ("margin_mm", -1, 51),
              ("gap_mm", -1, 31), ("width_mm", 10, 125), ("height_mm", 5, 125))
    for _ in range(60):
        layout = {k: (rnd.uniform(lo, hi) if k.endswith("mm") else rnd.randint(lo, hi)) for k, lo, hi in ranges if rnd.random() < 0.5}
        if rnd.random() < 0.3:
            layout["dpi"] = rnd.choice([203, 300, 600])
        fmt = rnd.choice(["pdf", "png", "zpl", "svg"])
        r = client.post("/api/v1/labels", json={"items": items, "format": fmt, "layout": layout}, headers=auth(cat.token))
        assert r.status_code in (200, 422), (fmt, layout, r.get_data()[:300])
