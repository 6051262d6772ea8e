"""public_view.subject_pages: the subject page's one row (see 0002, which now creates it with the other views).

Runs 0002's create again, which is re-runnable, so that a database migrated before this view existed gets it
and its grant."""

from importlib import import_module

from django.db import migrations

projection = import_module("public.migrations.0002_public_view_schema_and_role")


class Migration(migrations.Migration):
    dependencies = [("public", "0002_public_view_schema_and_role")]

    operations = [migrations.RunPython(projection.create, migrations.RunPython.noop)]
