"""The public pages' repeated parts, made in Python: a subject's record sections, a search's hits, badges.

A subject page shows every record in publicity, each with its catalog fields; a search page up to
20 hits, each with a link and badges. As template loops (a node per field, |date filters, {% url %}
and {% include %} per hit) they were two thirds of those pages' CPU time (~0.7 ms of ~1 ms for a
subject on the bench, ~2 ms for a search page); the same markup made here costs a few hundredths of
that. The pages' frames stay in public/templates/public/. Every value is escaped here.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from public.selectors import SearchHit, ShownCategory, ShownField, ShownRecord, SubjectProfile

_BASIC_SHOWN = {"uscc", "name", "subject_type", "former_names", "registration_no"}  # the page's own lines
_OBJECTION = '<p><span class="badge objection">异议处理中</span> 该信息正在异议处理中，结果以处理决定为准。</p>'


def fields_html(fields: list[ShownField]) -> str:
    return "".join(f"<dt>{escape(f.label)}</dt><dd>{escape(f.value)}</dd>" for f in fields)


def updated_text(record: ShownRecord) -> str:
    """When the source last changed it, on the platform's clock (Y-m-d H:i)."""
    return timezone.localtime(record.updated_at).strftime("%Y-%m-%d %H:%M")


def basic_fields_html(profile: SubjectProfile) -> SafeString:
    """The registration's fields that the basic-information block does not show already."""
    if profile.registration is None:
        return mark_safe("")
    return mark_safe(fields_html([f for f in profile.registration.fields if f.name not in _BASIC_SHOWN]))  # noqa: S308


def _record_html(category: ShownCategory, label: str, record: ShownRecord, number: int) -> str:
    until = ""
    if record.publicity_until and category.name == "admin_penalty":
        until = f"<dt>公示截止期</dt><dd>{record.publicity_until.isoformat()}</dd>"
    objection = " objection" if record.under_objection else ""
    return (f'  <article class="record{objection}" aria-label="{label} {number}">\n'
            f'    {_OBJECTION if record.under_objection else ""}\n'
            f'    <dl class="fields">{fields_html(record.fields)}{until}</dl>\n'
            f'    <p class="source">来源：{escape(record.department)} · 更新于 {updated_text(record)}</p>\n'
            f'  </article>\n')


def categories_html(profile: SubjectProfile) -> SafeString:
    """One section per category of the catalog's order, its records newest first, or a line saying none."""
    parts = []
    for category in profile.categories:
        name, label = escape(category.name), escape(category.label)
        parts.append(f'<section class="category" id="{name}" aria-labelledby="{name}-heading">\n'
                     f'  <h2 id="{name}-heading">{label}（{len(category.records)} 条）</h2>\n')
        parts += [_record_html(category, label, record, n) for n, record in enumerate(category.records, 1)]
        if not category.records:
            parts.append(f'  <p class="hint">暂无公示中的{label}信息。</p>\n')
        parts.append("</section>\n")
    return mark_safe("".join(parts))  # noqa: S308


def badges_html(item) -> SafeString:
    """Black list, red list, penalty count and objection badges of a search hit or a subject profile."""
    badges = []
    if item.black_listed:
        badges.append('<span class="badge black">失信</span>')
    if item.red_listed:
        badges.append('<span class="badge red">守信</span>')
    if item.penalties:
        badges.append(f'<span class="badge penalty">行政处罚 {int(item.penalties)} 条</span>')
    if item.under_objection:
        badges.append('<span class="badge objection">异议处理中</span>')
    return mark_safe("\n".join(badges))  # noqa: S308


def _hit_html(hit: SearchHit, url_prefix: str) -> str:
    former = f'<span class="hint">（曾用名：{escape(hit.former_name)}）</span>' if hit.former_name else ""
    if hit.id_number_masked:
        code = f'<span>证件号码 <span class="code">{escape(hit.id_number_masked)}</span></span>'
    elif not hit.code.startswith("N-"):
        code = f'<span>统一社会信用代码 <span class="code">{escape(hit.code)}</span></span>'
    else:
        code = ""
    status = f'<span class="badge status">{escape(hit.status_label)}</span>' if hit.status else ""
    return (f'  <li>\n'
            f'    <a class="name" href="{escape(url_prefix + quote(hit.code))}">{escape(hit.name)}</a>\n'
            f'    {former}\n'
            f'    <div>\n      {code}\n      {status}\n      {badges_html(hit)}\n    </div>\n'
            f'  </li>\n')


def hits_html(hits: list[SearchHit]) -> SafeString:
    """The result list's items: name (linking the subject page), former name, code or masked ID, badges."""
    url_prefix = reverse("public:subject", kwargs={"code": "-"})[:-1]  # one reverse() a page, not one a hit
    return mark_safe("".join(_hit_html(hit, url_prefix) for hit in hits))  # noqa: S308
