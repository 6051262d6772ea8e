"""The operators' console groups: viewer (sees everything, changes nothing), operator (may also edit a
department's grants, deactivate a department and verify the exchange log's chain), key_manager (may also
revoke a department's key). Nobody's group may change evidence: records, versions, batches, log entries."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWED = {
    "exchange": ["department", "departmentkey", "batch", "batchrejection", "exchangelogentry"],
    "credit": ["subject", "subjectalias", "record", "recordversion", "recordsource", "objection"],
}
GROUPS = {
    "viewer": [],
    "operator": [("exchange", "change_department"), ("exchange", "deactivate_department"),
                 ("exchange", "verify_exchange_log")],
    "key_manager": [("exchange", "revoke_departmentkey")],
}


def create_groups(apps, schema_editor):
    # permissions are made after all migrations ran (post_migrate): make them now, for a fresh database
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permission(app_label, codename):
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    viewing = [permission(app, f"view_{model}") for app, models in VIEWED.items() for model in models]
    for name, extra in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*viewing, *(permission(app, codename) for app, codename in extra))


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0006_console_permissions_and_verbose_names"),
        ("credit", "0010_console_verbose_names"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
