"""Records of two departments whose natural keys became one when keys were normalised
(credit/migrations/0009). They are not merged: one department's record cannot take over
another's. The later one is keyed apart and both stay flagged for operators."""

from django.db import models

# A keyed-apart record's natural_key: the shared key, a space, '#' and its own id. A normalised key never
# holds whitespace, so no row a department sends can ever be given that key.
KEYED_APART_SEPARATOR = " #"


class ConflictingDuplicate(models.Model):
    """`record` is keyed apart; `kept` holds the plain key. A row whose normalised key is `natural_key`
    reaches `record` when `record`'s owner sends it (credit.merge), `kept` otherwise."""

    category = models.CharField(max_length=32)
    natural_key = models.CharField(max_length=400)  # the normalised key the two records share
    record = models.OneToOneField("credit.Record", on_delete=models.CASCADE, related_name="+")
    kept = models.ForeignKey("credit.Record", on_delete=models.CASCADE, related_name="+")
    flagged_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["category", "natural_key"], name="conflicting_duplicate_key")]

    def __str__(self) -> str:
        return f"conflicting_duplicate {self.category} {self.natural_key}: {self.record_id} / {self.kept_id}"
