"""The public pages' repeated parts, made in Python: a subject's record sections, a search's hits, badges;
and the whole subject page.

A subject page shows every record in publicity, each with its catalog fields; a search page up to
20 hits, each with a link and badges. As template loops (a node per field, |date filters, {% url %}
and {% include %} per hit) they were two thirds of those pages' CPU time (~0.7 ms of ~1 ms for a
subject on the bench, ~2 ms for a search page); the same markup made here costs a few hundredths of
that. The pages' frame stays in public/templates/public/base.html; the subject page (the most requested)
is put into it here, the frame rendered once per URL prefix (see `page_html`), so a subject costs no
template rendering and no context processors. Every value is escaped here.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from urllib.parse import quote

from django.template import engines
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from public.selectors import SearchHit, ShownCategory, ShownRecord, SubjectPage, SubjectProfile, shown_values

_SPECIAL = re.compile("[&<>\"']")


def escape(text: str) -> str:
    """html.escape, without its five str.replace passes for text that has nothing to escape (nearly every
    value of a page; ~40 values a subject page, ~10% of its CPU time before)."""
    return html.escape(text) if _SPECIAL.search(text) else text


_BASIC_SHOWN = frozenset({"uscc", "name", "subject_type", "former_names", "registration_no"})  # the page's own lines
_OBJECTION = '<p><span class="badge objection">异议处理中</span> 该信息正在异议处理中，结果以处理决定为准。</p>'


@lru_cache(maxsize=1024)
def _label_html(label: str) -> str:
    """A catalog label (a few dozen in all, on every record) escaped once, not once a record."""
    return f"<dt>{escape(label)}</dt>"


def fields_html(record: ShownRecord, leave_out: frozenset[str] = frozenset()) -> str:
    """A record's shown fields as <dt>/<dd> pairs, but those named in `leave_out`."""
    return "".join(f"{_label_html(shown.label)}<dd>{escape(value)}</dd>"
                   for shown, value in shown_values(record.category, record.data) if shown.name not in leave_out)


def updated_text(record: ShownRecord) -> str:
    """When the source last changed it, on the platform's clock (settings.TIME_ZONE; the public site never
    activates another), Y-m-d H:i."""
    return record.updated_at.astimezone(timezone.get_default_timezone()).isoformat(" ", "minutes")[:16]


def basic_fields_html(profile: SubjectProfile) -> str:
    """The registration's fields that the basic-information block does not show already."""
    if profile.registration is None:
        return ""
    return fields_html(profile.registration, _BASIC_SHOWN)


def _record_html(category: ShownCategory, label: str, record: ShownRecord, number: int) -> str:
    until = ""
    if record.publicity_until and category.name == "admin_penalty":
        until = f"<dt>公示截止期</dt><dd>{record.publicity_until.isoformat()}</dd>"
    objection = " objection" if record.under_objection else ""
    return (f'  <article class="record{objection}" aria-label="{label} {number}">\n'
            f'    {_OBJECTION if record.under_objection else ""}\n'
            f'    <dl class="fields">{fields_html(record)}{until}</dl>\n'
            f'    <p class="source">来源：{escape(record.department)} · 更新于 {updated_text(record)}</p>\n'
            f'  </article>\n')


def categories_html(profile: SubjectProfile) -> str:
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
    return "".join(parts)


def badges_html(item) -> str:
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
    return "\n".join(badges)


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


_MARK = "\x00"  # cannot occur in a template's output: no data reaches the frame, and NUL is no HTML
_FRAME = ('{% extends "public/base.html" %}{% block title %}' + _MARK + '{% endblock %}'
          '{% block content %}' + _MARK + '{% endblock %}')


@lru_cache(maxsize=8)
def _frame(script_prefix: str) -> tuple[str, str, str, str]:
    """base.html cut around its title and content, and the search page's URL; rendered without a request
    (base.html reads nothing from one), once per script prefix ({% url %} depends on it) and process (an
    edited base.html shows after a restart, like any code)."""
    head, middle, tail = engines["django"].from_string(_FRAME).render({}).split(_MARK)
    return head, middle, tail, reverse("public:search")


def page_html(*, title: str, content: str, frame: tuple[str, str, str, str] | None = None) -> str:
    """A whole page: `title` is text (escaped here), `content` is HTML made (and escaped) by the caller."""
    head, middle, tail, _ = frame or _frame(get_script_prefix())
    return f"{head}{escape(title)}{middle}{content}{tail}"


def _legacy_codes_html(profile: SubjectProfile) -> str:
    return "".join(f'<dt>{"工商注册号" if kind == "registration_no" else "组织机构代码"}</dt>'
                   f'<dd class="code">{escape(value)}</dd>' for kind, value in profile.legacy_codes)


def subject_html(page: SubjectPage, *, kind_label: str) -> str:
    """The subject page (what public/templates/public/subject.html held): name, badges, basic information,
    one section per category."""
    subject, profile = page.subject, page.profile
    frame = _frame(get_script_prefix())
    search_url = frame[3]
    uscc = f'<dt>统一社会信用代码</dt><dd class="code">{escape(subject.uscc)}</dd>' if subject.uscc else ""
    masked = (f'<dt>证件号码</dt><dd class="code">{escape(subject.id_number_masked)}</dd>'
              if subject.id_number_masked else "")
    former = (f'<dt>曾用名</dt><dd>{"；".join(escape(name) for name in profile.former_names)}</dd>'
              if profile.former_names else "")
    if profile.registration:
        source = (f'\n  <p class="source">来源：{escape(profile.registration.department)} · '
                  f'更新于 {updated_text(profile.registration)}</p>\n  ')
    elif not subject.registered:
        source = '\n  <p class="hint">暂无登记注册信息。</p>\n  '
    else:
        source = ""
    content = (f'\n<nav aria-label="返回"><a href="{escape(search_url)}">← 重新查询</a></nav>\n'
               f'<h1>{escape(subject.name)}</h1>\n<p>{badges_html(profile)}</p>\n\n'
               f'<section aria-labelledby="basic-heading">\n  <h2 id="basic-heading">基本信息</h2>\n'
               f'  <dl class="fields">\n    {uscc}\n    {masked}\n'
               f'    <dt>主体类别</dt><dd>{escape(kind_label)}</dd>\n    {_legacy_codes_html(profile)}\n'
               f'    {former}\n    {basic_fields_html(profile)}\n  </dl>\n  {source}\n</section>\n\n'
               f'{categories_html(profile)}\n')
    return page_html(title=subject.name, content=content, frame=frame)
