"""The projection moves to schema public_projection, which the public role cannot read; the role reads it
only through public_view's SECURITY DEFINER functions (see 0002, which now creates all this).

Runs 0002's create again, which is re-runnable, so that a database migrated before this change gets it."""

from importlib import import_module

from django.db import migrations

projection = import_module("public.migrations.0002_public_view_schema_and_role")


class Migration(migrations.Migration):
    dependencies = [("public", "0003_subject_pages_view")]

    operations = [migrations.RunPython(projection.create, migrations.RunPython.noop)]
