"""The operators' console groups (exchange migration 0007) see credit repair requests, authorisations and the
credit reports issued; nobody changes them there (the portal and the exchange API do)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWED = ["repairrequest", "authorization", "creditreport"]
GROUPS = ["viewer", "operator", "key_manager"]


def grant_viewing(apps, schema_editor):
    # permissions are made after all migrations ran (post_migrate): make them now, for a fresh database
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    viewing = Permission.objects.filter(content_type__app_label="credit", codename__in=[f"view_{m}" for m in VIEWED])
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(*viewing)


def revoke_viewing(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    viewing = Permission.objects.filter(content_type__app_label="credit", codename__in=[f"view_{m}" for m in VIEWED])
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*viewing)


class Migration(migrations.Migration):
    dependencies = [
        ("credit", "0011_enterprise_self_service"),
        ("exchange", "0007_console_groups"),
    ]

    operations = [migrations.RunPython(grant_viewing, revoke_viewing)]
