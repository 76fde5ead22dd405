"""The Chinese traceback report (溯源报告) of an evidence bundle, as a printable A4 PDF (fpdf2).

Everything it prints comes from ``bundle["report"]`` (which ``verify_bundle.py``
checks against the bundled events) and from the bundle's checkpoint; the PDF
itself is bound to ``bundle.json`` by the signed note that covers both hashes.
"""

from __future__ import annotations

import datetime

from registry.labels.render import _face_index, find_cjk_font
from registry.services.trace import FLAG_CODES, ITEM_ZH, KIND_ZH

CHINA = datetime.timezone(datetime.timedelta(hours=8))
STATE_ZH = {
    "commissioned": "已赋码", "shipped": "运输中", "in_stock": "在库", "sold": "已售出", "registered": "已登记",
    "deregistered": "已注销", "scrapped": "已报废", "installed": "已安装", "removed": "已拆下", "retired": "已退役",
    "recycled": "已回收",
}
ORG_KIND_ZH = {
    "manufacturer": "生产企业", "dealer": "销售网点", "registration_point": "登记上牌点", "repair_shop": "维修点",
    "swap_operator": "换电运营商", "recycler": "回收网点", "investigator": "消防/公安", "regulator": "市场监管",
    "admin": "系统管理员",
}
INCIDENT_ZH = {"fire": "火灾", "explosion": "爆炸", "accident": "交通事故"}
STATE_AT_ZH = {"charging": "充电中", "parked": "停放中", "riding": "骑行中", "unknown": "不明"}
CERT_ZH = {"valid": "有效", "suspended": "暂停", "revoked": "撤销"}
#: Spec key -> (Chinese name, unit).
SPEC_ZH = {"chemistry": ("化学体系", ""), "voltage_v": ("标称电压", "V"), "capacity_ah": ("容量", "Ah"),
           "energy_wh": ("能量", "Wh"), "output_v": ("输出电压", "V"), "output_a": ("输出电流", "A")}


def local(moment: str | None) -> str:
    """Return an RFC 3339 UTC moment as China Standard Time, to the minute."""
    if not moment:
        return "-"
    try:
        t = datetime.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return moment
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _person(p: dict | None) -> str:
    if not p:
        return "-"
    if p.get("erased"):
        return "（个人信息已依法删除）"
    parts = [p.get("name") or "", p.get("id_number") or "", p.get("phone") or ""]
    text = " ".join(x for x in parts if x)
    return text + ("（已脱敏）" if p.get("masked") else "")


def _spec(key: str, value) -> str:
    name, unit = SPEC_ZH.get(key, (key, ""))
    return f"{name} {value}{unit}"


def _org(ref: dict | None) -> str:
    return ref["name"] if ref else "-"


class _Doc:
    def __init__(self, footer: str):
        from fpdf import FPDF
        from fpdf.fonts import FontFace

        doc = self

        class Report(FPDF):
            def footer(self):
                self.set_y(-12)
                self.set_font(doc.family, size=7.5)
                self.cell(0, 5, doc.text(f"{footer} · 第 {self.page_no()} 页 / 共 {{nb}} 页"), align="C")

        self.pdf = Report(orientation="portrait", unit="mm", format="A4")
        self.pdf.set_margins(15, 15, 15)
        self.pdf.set_auto_page_break(True, margin=16)
        self.pdf.set_creator("yima")
        path = find_cjk_font()
        self.cjk = path is not None
        if self.cjk:
            self.pdf.add_font("cjk", fname=path, collection_font_number=_face_index(path))
            self.family = "cjk"
        else:  # no CJK font installed (scripts/install_fonts): Latin text only
            self.family = "helvetica"
        self.heading = FontFace(emphasis="", fill_color=(225, 225, 225))
        self.pdf.set_font(self.family, size=10)

    def text(self, s: str) -> str:
        s = str(s)
        return s if self.cjk else s.encode("latin-1", "replace").decode("latin-1")

    def title(self, s: str) -> None:
        self.pdf.set_font(self.family, size=17)
        self.pdf.multi_cell(0, 9, self.text(s), align="C", new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, size=10)

    def h(self, s: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.family, size=13)
        self.pdf.multi_cell(0, 7, self.text(s), align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, size=10)

    def p(self, s: str, size: float = 10) -> None:
        self.pdf.set_font(self.family, size=size)
        self.pdf.multi_cell(0, size * 0.55, self.text(s), align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, size=10)

    def table(self, head: list[str], rows: list[list[str]], widths: list[float], size: float = 8.5) -> None:
        self.pdf.set_font(self.family, size=size)
        with self.pdf.table(col_widths=widths, text_align="LEFT", headings_style=self.heading, line_height=size * 0.5,
                            padding=0.8, width=self.pdf.epw, wrapmode="CHAR", repeat_headings=1) as table:
            for line in [head, *rows]:
                row = table.row()
                for cell in line:
                    row.cell(self.text(cell if cell not in (None, "") else "-"))
        self.pdf.set_font(self.family, size=10)


def render_report(bundle: dict) -> bytes:
    """Return the report of *bundle* (see :mod:`registry.services.bundle`) as PDF bytes."""
    r = bundle["report"]
    d = _Doc(f"溯源报告 · 案件 {r.get('case_number') or '-'} · 检查点 {bundle['tree_size']}")
    pdf = d.pdf
    subjects = r["subjects"]
    vehicle = subjects.get(r.get("vehicle") or "")
    checkpoint_lines = bundle["checkpoint"].split("\n")

    pdf.add_page()
    d.title("电动自行车事故全链条溯源报告")
    d.p("Traceback report (事故全链条溯源调查) · yima 一码 registry", size=9)
    pdf.ln(2)
    meta = [
        ["案件编号", r.get("case_number") or "-"],
        ["查询", f"{r['query']['q']}（{ITEM_ZH.get(r['query']['kind'], r['query']['kind'])} {r['query']['identifier']}）"],
        ["整车编码", vehicle["identifier"] if vehicle else "-"],
        ["号牌", next((x["plate"] for x in reversed(r["registrations"]) if x.get("plate")), "-")],
        ["生成时间", local(r.get("generated_at")) + "（北京时间）"],
        ["生成机构", _org((r.get("generated_by") or {}).get("org"))],
        ["日志", f"{bundle['origin']}，树大小 {bundle['tree_size']}，哈希算法 {bundle['hash']}"],
        ["根哈希", bundle["root_hash"]],
    ]
    d.table(["项目", "内容"], meta, [28, 152], size=9)

    d.h("一、涉事车辆与部件（一车一池一充）")
    rows = []
    for s in [*r["set"]["vehicles"], *r["set"]["batteries"], *r["set"]["chargers"]]:
        x = subjects[s]
        cert = x.get("certificate")
        rows.append([
            ITEM_ZH.get(x["kind"], x["kind"]) + ("（查询）" if x.get("queried") else ""),
            x["identifier"], x.get("model") or "-", _org(x.get("maker")),
            f"{cert['number']}（{CERT_ZH.get(cert['status'], cert['status'])}，至{cert['expires_on']}）" if cert else "无",
            x.get("produced_on") or "-", STATE_ZH.get(x.get("state"), x.get("state") or "-"),
        ])
    d.table(["类别", "编码", "型号", "生产企业", "3C证书（状态）", "生产日期", "现状"], rows, [16, 44, 18, 32, 40, 18, 12])
    for s in r["set"]["batteries"]:
        x = subjects[s]
        spans = "；".join(
            f"{i['installed_at'][:10]} 由{KIND_ZH.get(i['installed_kind'], i['installed_kind'])}装入 {i['vehicle'].split(':', 1)[1]}"
            + (f"，第 {i['removed_index']} 条事件拆下" if i.get("removed_index") is not None else "，至今")
            for i in x.get("installations", []))
        specs = x.get("specs") or {}
        kind = "、".join(_spec(k, v) for k, v in specs.items())
        d.p(f"蓄电池 {x['identifier']}：{kind or '规格不明'}；{spans or '无装车记录'}", size=9)

    d.h("二、销售与登记")
    if r["sales"]:
        d.table(["事件序号", "销售网点", "销售时间", "购买人"],
                [[str(x["index"]), _org(x["dealer"]), local(x["sold_at"]), _person(x["buyer"]) if x["buyer"] else _org(x.get("buyer_org"))]
                 for x in r["sales"]], [18, 52, 32, 78])
    else:
        d.p("无销售记录。")
    if r["registrations"]:
        d.table(["事件序号", "登记事项", "登记机构", "时间", "号牌", "车主"],
                [[str(x["index"]), KIND_ZH.get(x["kind"], x["kind"]), _org(x["org"]), local(x["occurred_at"]), x.get("plate") or "-",
                  _person(x.get("owner"))] for x in r["registrations"]], [15, 17, 36, 26, 22, 64])
    else:
        d.p("无登记记录。")

    d.h("三、事故")
    if r["incidents"]:
        for x in r["incidents"]:
            cas = x.get("casualties") or {}
            d.p(f"第 {x['index']} 条：{INCIDENT_ZH.get(x['incident_type'], x['incident_type'])}，{local(x['occurred_at'])}，"
                f"{x.get('address') or ''}（区划 {x.get('region') or '-'}），起火时{STATE_AT_ZH.get(x.get('state'), x.get('state') or '-')}，"
                f"死亡 {cas.get('dead', 0)} 人、受伤 {cas.get('injured', 0)} 人；案件编号 {x.get('case_number')}；"
                + ("已提级调查。" if x.get("escalated") else "未提级。"))
            d.p(f"涉事物品：{'、'.join(x['subjects']) or '-'}；现场标识：{'、'.join(x.get('scene_identifiers') or []) or '-'}", size=9)
            for sha in x.get("photos") or []:
                d.p(f"现场照片 SHA-256：{sha}", size=8)
    else:
        d.p("无事故记录。")

    d.h("四、全链条时间线（按发生时间）")
    rows = []
    for e in r["timeline"]:
        touched = "\n".join(s.split(":", 1)[1] for s in e["subjects"] if s.split(":", 1)[0] in ITEM_ZH)
        kind = (e.get("kind_zh") or KIND_ZH.get(e["kind"], e["kind"])) + ("（已撤销）" if e.get("voided") else "")
        who = _org(e.get("org")) + (f"\n用户 {e['user']}" if e.get("user") else "")
        rows.append([str(e["index"]), local(e["occurred_at"]), kind, who, touched, e["leaf_hash"][:16]])
    d.table(["序号", "发生时间", "事件", "责任机构 / 操作人", "涉及物品", "叶哈希（前16位）"], rows, [11, 26, 20, 45, 48, 30], size=8)

    d.h("五、责任方")
    d.table(["机构", "类型", "角色", "所记录事件序号"],
            [[p["org"]["name"], ORG_KIND_ZH.get(p["org"]["kind"], p["org"]["kind"]), "、".join(p.get("roles_zh") or p["roles"]),
              "、".join(str(i) for i in p["events"])] for p in r["parties"]], [55, 25, 35, 65], size=8.5)

    d.h("六、问题标记")
    if r["flags"]:
        d.table(["代码", "对象", "事件序号", "说明"],
                [[f"{f['code']}（{FLAG_CODES.get(f['code'], ('',))[0]}）", f.get("subject") or "-",
                  "-" if f.get("index") is None else str(f["index"]), f["message"]] for f in r["flags"]], [45, 40, 15, 80], size=8)
    else:
        d.p("未发现问题标记。")

    d.h("七、如何核验")
    d.p(
        "1. 本报告随证据包 (zip) 提供；包内 bundle.json 含报告所依据的每一条事件原文（base64，即日志中被哈希的规范字节）、"
        "其包含证明（亦以 C2SP tlog-proof@v1 文本给出）、签名检查点与公钥。\n"
        "2. 离线核验只需 Python 3 与 cryptography：python3 verify_bundle.py 证据包.zip --vkey '<登记系统公布的 vkey>'。"
        "脚本逐条核对：事件原文的叶哈希 H(0x00||原文)、包含证明可到达检查点根哈希、检查点签名、各链 prev 链接顺序一致、"
        "报告中出现的每个机构名称、编码、型号、证书及其状态均有对应事件支撑，并核对 bundle.json.sig 对 bundle.json 与本 PDF 的签名。"
        "任何一个字节被改动都会核验失败并指出原因。\n"
        "3. 公钥须与登记系统 /api/v1/log/public-keys 公布的一致；可向日志请求更晚检查点的一致性证明 (/api/v1/log/proofs/consistency)，"
        "确认日志未被改写。\n"
        "4. 个人信息不进入日志：日志中仅有车主的化名（keyed HMAC），本报告所示姓名与证件号码取自加密的车主库，"
        "每次查看均已留痕（案件编号）。", size=9)
    d.p("检查点（signed note）：", size=9)
    d.p("\n".join(line for line in checkpoint_lines if line), size=7.5)
    keys = "\n".join(k["vkey"] for k in bundle["public_keys"])
    d.p(f"公钥（vkey）：\n{keys}", size=7.5)

    return bytes(pdf.output())
