"""The console's groups see the department scorecards; operators may also compute a month again."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "viewer": ["view_departmentscorecard"],
    "operator": ["view_departmentscorecard", "recompute_departmentscorecard"],
    "key_manager": ["view_departmentscorecard"],
}


def grant(apps, schema_editor):
    # permissions are made after all migrations ran (post_migrate): make ops' now, for a fresh database
    app_config = apps.get_app_config("ops")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.add(*Permission.objects.filter(content_type__app_label="ops",
                                                         codename__in=GRANTS[group.name]))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="ops",
                                                            codename__in=GRANTS[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_department_scorecards"),
        ("exchange", "0007_console_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
