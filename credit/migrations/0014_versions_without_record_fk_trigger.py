"""A version's record is no longer checked by a deferred foreign-key trigger: since versions carry the change
feed (0013) they are inserted under the feed append lock, and their per-row checks ran at COMMIT under it,
holding every other category's merge back. The merge checks per chunk that each version's record is one it
wrote itself; verify_store checks every reference."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0013_versions_carry_the_feed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="recordversion",
            name="record",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="versions", to="credit.record"),
        ),
    ]
