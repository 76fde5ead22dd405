"""The public code page a scanned label opens: /c/<token> (and /C/<token> for upper-cased payloads)."""

from __future__ import annotations

from flask import Blueprint, render_template

from registry.api.context import registry
from registry.services import codes

bp = Blueprint("code_pages", __name__, template_folder="templates")

KIND_ZH = {"vehicle": "电动自行车（整车）", "battery": "蓄电池", "charger": "充电器"}
STATE_ZH = {
    "commissioned": "已赋码出厂",
    "shipped": "运输中",
    "in_stock": "在库待售",
    "sold": "已售出",
    "registered": "已登记上牌",
    "installed": "已装车使用",
    "removed": "已拆下",
    "retired": "已退役",
    "recycled": "已回收",
    "deregistered": "已注销",
    "scrapped": "已报废",
}
STANDARD_ZH = {"GB17761-2024": "符合 GB 17761-2024", "GB17761-2018": "符合 GB 17761-2018", "non_standard": "非标车（过渡期车型）"}


@bp.get("/c/<string:token>")
@bp.get("/C/<string:token>")
def code_page(token):
    """Show whether a scanned code is genuine and what its item is, in Chinese; never personal data."""
    with registry().reading() as uow:
        answer = codes.check(uow, token, "zh", token_only=True)
    age = answer.get("battery_age_days")
    return render_template(
        "code.html",
        a=answer,
        kind_zh=KIND_ZH.get(answer.get("kind"), answer.get("kind")),
        state_zh=STATE_ZH.get(answer.get("state"), answer.get("state")),
        standard_zh=STANDARD_ZH.get(answer.get("standard")),
        age_years=None if age is None else age / 365.25,
    ), 200, {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
