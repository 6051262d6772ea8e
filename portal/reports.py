"""Credit reports (信用报告, portal.md §6): a PDF of the subject as the public site shows it (`public`) or of
every record with its publicity state (`own`), numbered at random, its SHA-256 and a JWS over it kept
(credit.models.CreditReport) so that anyone can verify a copy later (GET /api/v1/public/reports/{number}).

The PDF is drawn by ReportLab with Debian's WenQuanYi Zen Hei (fonts-wqy-zenhei) embedded as a subset, so
the Chinese text extracts. `public` reads through public.selectors, the very reads of the public pages, page
after page until each category is done; `own` through portal.selectors.own_records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import secrets
from dataclasses import dataclass
from functools import lru_cache

from django.db import transaction
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from credit.models import CreditReport, ReportScope, Subject
from exchange.jws import jws_sign
from exchange.platform_keys import platform_key_current
from portal.selectors import own_records
from portal.views import NOT_PUBLIC_REASON_LABELS, OBJECTION_STATUS_LABELS
from public import selectors as public_selectors
from validation.catalog import current_catalog

FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # fonts-wqy-zenhei (scripts/provision)
FONT = "WenQuanYiZenHei"
# "CR" + 20 characters of Crockford's base32 (100 random bits): a number nobody can guess or enumerate
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SCOPE_LABELS = {ReportScope.PUBLIC: "公开信息版（与信用信息查询网站公示内容一致）",
                ReportScope.OWN: "企业自查版（含不公开信息及其公示状态）"}
@dataclass(frozen=True)
class IssuedReport:
    report: CreditReport
    pdf: bytes


def report_number_new() -> str:
    return "CR" + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(20))


@lru_cache(maxsize=1)
def _font() -> str:
    pdfmetrics.registerFont(TTFont(FONT, FONT_FILE, subfontIndex=0))  # subset-embedded when the PDF is written
    return FONT


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=20, leading=28, alignment=1, spaceAfter=6 * mm),
        "h2": ParagraphStyle("h2", parent=body, fontSize=13, leading=20, spaceBefore=5 * mm, spaceAfter=2 * mm),
        "h3": ParagraphStyle("h3", parent=body, fontSize=10.5, leading=16, spaceBefore=3 * mm),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=12, textColor="#57606a"),
    }


def _text(value) -> str:
    """Plain text for a ReportLab paragraph (which reads a small markup: escape it)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_COLUMNS = (38 * mm, 132 * mm)  # label, value
_CELL_PADDING = 6  # points left and right: ReportLab's default


def _cell(text: str, width: float):
    """A table cell: the text as it is when it fits on one line (drawn as a string: a report of 1,000
    records has ~20,000 cells, and a paragraph costs many times more to lay out), else a paragraph that wraps."""
    body = _styles()["body"]
    if "\n" not in text and stringWidth(text, body.fontName, body.fontSize) <= width - 2 * _CELL_PADDING:
        return text
    return Paragraph(_text(text), body)


def _fields_table(rows: list[tuple[str, str]]) -> Table:
    body = _styles()["body"]
    table = Table([[_cell(str(k), _COLUMNS[0]), _cell(str(v), _COLUMNS[1])] for k, v in rows], colWidths=_COLUMNS)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, "#d0d7de"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (0, -1), "#f6f8fa"),
                               # strings drawn as the paragraphs are: same font, size and line height
                               ("FONT", (0, 0), (-1, -1), body.fontName, body.fontSize, body.leading)]))
    return table


@dataclass(frozen=True)
class _Section:
    label: str
    records: list[list[tuple[str, str]]]  # each record: (label, text) rows


def _public_sections(subject: Subject) -> tuple[list[tuple[str, str]], list[_Section]]:
    """The subject as the public site shows it: its basic information and every public record, every page of
    each category, with the marks the site shows (under objection, publicity until)."""
    page = public_selectors.subject_page(code=subject.uscc or f"N-{subject.pk}")
    if page is None:  # nothing public and not registered: the site shows no page for it
        return [], []
    profile = page.profile
    basic = [("主体类别", page.kind_label)]
    if profile.registration is not None:
        basic += [(f.label, text) for f, text in profile.registration.shown
                  if f.name not in {"uscc", "name", "subject_type", "former_names", "registration_no"}]
    if profile.former_names:
        basic.append(("曾用名", "；".join(profile.former_names)))
    sections = []
    for category in profile.categories:
        records, cursor = list(category.records), category.next_cursor
        while cursor:
            more = public_selectors.subject_page(code=page.subject.code, category=category.name, cursor=cursor)
            shown = more.profile.categories[0] if more else None
            records += shown.records if shown else []
            cursor = shown.next_cursor if shown else None
        rows = []
        for record in records:
            fields = [(f.label, text) for f, text in record.shown]
            if record.publicity_until and category.name == "admin_penalty":
                fields.append(("公示截止期", record.publicity_until.isoformat()))
            fields.append(("来源", record.department))
            if record.under_objection:
                fields.append(("异议", "该信息正在异议处理中，结果以处理决定为准"))
            rows.append(fields)
        sections.append(_Section(category.label, rows))
    return basic, sections


def _own_sections(subject: Subject) -> tuple[list[tuple[str, str]], list[_Section]]:
    """Every record of the subject, public or not, with its publicity state and why."""
    shown = public_selectors.PublicCatalog(None, current_catalog())  # labels as the site's, read from the store
    result = own_records(subject=subject)
    basic = [(k, v) for k, v in [("法定代表人", result["subject"].get("legal_representative")),
                                 ("登记状态", shown.enum_label("registration_status", result["subject"].get("status") or "")),
                                 ("住所", result["subject"].get("address")),
                                 ("登记机关", result["subject"].get("registration_authority"))] if v]
    by_category: dict[str, list[list[tuple[str, str]]]] = {}
    for record in result["records"]:
        if record["category"] == "registration":
            continue
        fields = [(f.label, text) for f in shown.fields(record["category"])
                  if (text := f.value(record["data"].get(f.name)))]
        if record["public"]:
            state = "向社会公示中" + (f"，公示至 {record['publicity_until']}" if record["publicity_until"] else "")
        else:
            reason = record["not_public_reason"]
            state = "不公开：" + NOT_PUBLIC_REASON_LABELS.get(reason, reason or "")
        fields += [("公示状态", state), ("提供部门", f"{record['department']['name']}（{record['department']['code']}）")]
        if record["objection"]:
            status = record["objection"]["status"]
            fields.append(("异议", f"第 {record['objection']['id']} 号异议：{OBJECTION_STATUS_LABELS.get(status, status)}"))
        by_category.setdefault(record["category"], []).append(fields)
    sections = [_Section(shown.label(name), by_category.get(name, [])) for name in shown.shown_categories]
    return basic, sections


def report_pdf(*, number: str, subject: Subject, scope: str, issued_at: dt.datetime) -> bytes:
    """The report as a PDF: page one carries the number, name, USCC, issue time and scope."""
    styles = _styles()
    basic, sections = (_public_sections if scope == ReportScope.PUBLIC else _own_sections)(subject)
    issued_local = timezone.localtime(issued_at).strftime("%Y-%m-%d %H:%M:%S")
    story = [
        Paragraph("信用报告", styles["title"]),
        _fields_table([("报告编号", number), ("主体名称", subject.name),
                       ("统一社会信用代码", subject.uscc or "—"), ("出具时间", f"{issued_local}（北京时间）"),
                       ("报告范围", SCOPE_LABELS[scope])]),
        Spacer(1, 3 * mm),
        Paragraph(_text(f"核验方法：在湖南省信用信息共享平台打开 /reports/{number}（或 GET /api/v1/public/reports/{number}），"
                        "核对主体、范围、出具时间，并比对本文件的 SHA-256 摘要。"), styles["small"]),
        Paragraph("基本信息", styles["h2"]),
        _fields_table(basic or [("登记信息", "暂无")]),
    ]
    for section in sections:
        story.append(Paragraph(_text(f"{section.label}（{len(section.records)} 条）"), styles["h2"]))
        if not section.records:
            story.append(Paragraph("无。", styles["body"]))
        for index, rows in enumerate(section.records, 1):
            story += [Paragraph(_text(f"{section.label} 第 {index} 条"), styles["h3"]), _fields_table(rows)]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(_font(), 8)
        canvas.drawString(20 * mm, 10 * mm, f"报告编号 {number} · 第 {doc.page} 页")
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                                 bottomMargin=18 * mm, title=f"信用报告 {number}", author="湖南省信用信息共享平台",
                                 subject=f"{subject.name} {subject.uscc or ''}")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def report_issue(*, subject: Subject, scope: str, issued_by: str) -> IssuedReport:
    """Draw the report and keep its number, digest and a JWS over them (the receipt keys)."""
    if scope not in ReportScope.values:
        raise ValueError(f"unknown report scope {scope!r}")
    number, issued_at = report_number_new(), timezone.now().replace(microsecond=0)
    pdf = report_pdf(number=number, subject=subject, scope=scope, issued_at=issued_at)
    digest = hashlib.sha256(pdf).hexdigest()
    key = platform_key_current()
    claims = {"typ": "credit_report", "number": number, "uscc": subject.uscc, "name": subject.name, "scope": scope,
              "issued_at": issued_at.isoformat(), "sha256": digest}
    with transaction.atomic():
        report = CreditReport.objects.create(number=number, subject=subject, scope=scope, issued_at=issued_at,
                                             issued_by=issued_by[:200], sha256=digest,
                                             jws=jws_sign(payload=claims, private_key=key.private_key, kid=key.kid))
    return IssuedReport(report, pdf)
