"""Evidence bundles: verified offline by scripts/verify_bundle.py; any changed character fails; the PDF report."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from registry.labels.render import find_cjk_font
from tests.conftest import auth
from tests.trace_city import OWNER_ID, build_city

pytestmark = pytest.mark.db

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_bundle.py"


@pytest.fixture
def city(client, make_org, make_catalogue):
    return build_city(client, make_org, make_catalogue)


@pytest.fixture
def bundle(client, city, tmp_path):
    r = client.get("/api/v1/trace/bundle", query_string={"q": city.burnt["code"], "case_number": city.case_number},
                   headers=auth(city.investigator[1]))
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/zip" and "attachment" in r.headers["Content-Disposition"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.data)
    return path


def verify(path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the verifier as a separate program, from a folder holding nothing of the registry."""
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *extra], capture_output=True, text=True,
                          cwd=path.parent, timeout=120)


def rewrite(path: Path, target: Path, member: str, change) -> Path:
    """Copy the zip at *path* to *target* with *member* passed through *change* (bytes -> bytes)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, change(data) if info.filename == member else data)
    return target


def edit_json(path: Path, target: Path, edit) -> Path:
    def change(raw: bytes) -> bytes:
        doc = json.loads(raw)
        edit(doc)
        return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    return rewrite(path, target, "bundle.json", change)


def test_the_verifier_needs_only_the_standard_library_and_cryptography():
    tree = ast.parse(SCRIPT.read_text())
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    third_party = {r for r in roots if r not in sys.stdlib_module_names}
    assert third_party == {"cryptography"}, third_party


def test_the_bundle_verifies_with_verify_bundle_py(client, city, bundle):
    result = verify(bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        doc = json.loads(z.read("bundle.json"))
    assert {"bundle.json", "bundle.json.sig", "report.pdf", f"photos/{city.photo}"} <= names
    assert doc["format"] == "yima-trace-bundle/1" and doc["checkpoint"].startswith(doc["origin"] + "\n")
    entries = {e["index"]: e for e in doc["entries"]}
    for step in (city.sale, city.registration, city.swap, city.fire):
        assert entries[step["index"]]["leaf_hash"] == step["leaf_hash"]
        assert entries[step["index"]]["tlog_proof"].startswith(f"c2sp.org/tlog-proof@v1\nindex {step['index']}\n")
    # every organisation the report names is proven by its registration event
    names_shown = {o["name"] for o in doc["report"]["organisations"].values()}
    assert {city.shop[0]["name"], city.dealer[0]["name"], city.vmaker.org["name"], city.bmaker.org["name"]} <= names_shown
    assert all(entries[o["index"]]["kind"] == "register_organisation" for o in doc["report"]["organisations"].values())
    # pinned to the key the registry publishes
    keys = client.get("/api/v1/log/public-keys").get_json()["keys"]
    assert verify(bundle, "--vkey", keys[-1]["vkey"]).returncode == 0
    stranger = "someone+00000000+" + "AQ" + "A" * 42 + "="
    assert verify(bundle, "--vkey", stranger).returncode == 1


def _shop(doc, city):
    org = doc["report"]["organisations"][city.shop[0]["id"]]
    org["name"] = org["name"][:-1] + "X"


def _code(doc, city):
    subject = f"battery:{city.burnt['identifier']}"
    ident = doc["report"]["subjects"][subject]["identifier"]
    doc["report"]["subjects"][subject]["identifier"] = ident[:-1] + ("8" if ident[-1] != "8" else "9")


def _hash(doc, city):
    entry = next(e for e in doc["entries"] if e["index"] == city.swap["index"])
    entry["leaf_hash"] = ("0" if entry["leaf_hash"][0] != "0" else "1") + entry["leaf_hash"][1:]


def _proof(doc, city):
    entry = next(e for e in doc["entries"] if e["index"] == city.fire["index"] and e["proof"])
    entry["proof"][0] = ("f" if entry["proof"][0][0] != "f" else "e") + entry["proof"][0][1:]


def _sale_time(doc, city):
    doc["report"]["sales"][0]["sold_at"] = "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("change, says", [
    (_shop, "organisation"), (_code, "identifier"), (_hash, "leaf hash"), (_proof, "root"), (_sale_time, "sale"),
], ids=["a shop name", "a code", "a hash", "a proof", "a sale time"])
def test_changing_one_character_in_bundle_json_makes_it_fail(city, bundle, tmp_path, change, says):
    altered = edit_json(bundle, tmp_path / "altered.zip", lambda doc: change(doc, city))
    result = verify(altered)
    assert result.returncode == 1, result.stdout
    assert "bundle.json was changed after it was signed" in result.stdout
    assert says in result.stdout, result.stdout


def test_any_one_changed_character_anywhere_in_bundle_json_or_the_pdf_fails(bundle, tmp_path):
    spec = importlib.util.spec_from_file_location("verify_bundle", SCRIPT)
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)
    with zipfile.ZipFile(bundle) as z:
        raw = z.read("bundle.json")
    text = raw.decode("utf-8")
    rng = random.Random(5)
    for n in range(25):
        at = rng.randrange(len(text))
        replacement = "0" if text[at] != "0" else "1"
        altered = rewrite(bundle, tmp_path / f"a{n}.zip", "bundle.json",
                          lambda _: (text[:at] + replacement + text[at + 1:]).encode("utf-8"))
        with io.StringIO() as out, _stdout(out):
            assert verifier.main([str(altered)]) == 1, (at, text[max(0, at - 30):at + 30])
    pdf = rewrite(bundle, tmp_path / "pdf.zip", "report.pdf", lambda data: data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    result = verify(pdf)
    assert result.returncode == 1 and "report.pdf was changed" in result.stdout


class _stdout:
    def __init__(self, buf):
        self.buf = buf

    def __enter__(self):
        self.old, sys.stdout = sys.stdout, self.buf

    def __exit__(self, *exc):
        sys.stdout = self.old


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
@pytest.mark.skipif(find_cjk_font() is None, reason="no CJK font installed (scripts/install_fonts)")
def test_pdftotext_of_the_report_holds_the_frame_code_and_the_word_traceback(city, bundle, tmp_path):
    with zipfile.ZipFile(bundle) as z:
        (tmp_path / "report.pdf").write_bytes(z.read("report.pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    plain = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    for t in (text, plain):
        assert city.vehicle["identifier"] in t and "溯源" in t
    for shown in (city.shop[0]["name"], city.dealer[0]["name"], city.burnt["identifier"], city.removed["identifier"],
                  city.plate, OWNER_ID, city.case_number, "battery_past_service_age" if False else "问题标记", "如何核验"):
        assert shown in plain, shown


def test_only_an_investigator_with_a_case_number_gets_a_bundle(client, city):
    q = {"q": city.vehicle["identifier"]}
    assert client.get("/api/v1/trace/bundle", query_string={**q, "case_number": "x"}, headers=auth(city.regulator[1])).status_code == 403
    assert client.get("/api/v1/trace/bundle", query_string=q, headers=auth(city.investigator[1])).status_code == 422
