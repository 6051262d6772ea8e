"""Credit reports verified by anyone (portal.md §6): the public role reads a report's number, subject, scope,
issue time and digest through one SECURITY DEFINER function, by its number only (numbers are random: nothing
to enumerate), as it reads everything else.

Fixed SQL with its reverse."""

from django.db import migrations

FORWARD = r"""
CREATE VIEW public_projection.reports AS
SELECT r.number, s.uscc, s.name, r.scope, r.issued_at, r.sha256
FROM credit_creditreport r
JOIN credit_subject s ON s.id = r.subject_id;

CREATE FUNCTION public_view.report(report_number text)
RETURNS TABLE (number text, uscc text, name text, scope text, issued_at timestamptz, sha256 text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT r.number::text, r.uscc::text, r.name::text, r.scope::text, r.issued_at, r.sha256::text
                   FROM public_projection.reports r WHERE r.number = report_number;
END
$$;
REVOKE ALL ON FUNCTION public_view.report(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public_view.report(text) TO credit_public;
"""

REVERSE = r"""
DROP FUNCTION public_view.report(text);
DROP VIEW public_projection.reports;
"""


class Migration(migrations.Migration):
    dependencies = [("public", "0010_search_bounded_for_common_fragments"), ("credit", "0011_enterprise_self_service")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
