"""The public projection's shapes.

`PublicSubject`, `PublicRecord` and `PublicAlias` are unmanaged models over the
views of schema `public_projection` (created in migrations/0002). The public
site's role cannot read those views: it calls the functions of schema
`public_view` (public/selectors.py), and these models only carry the rows they
return. Publicity is computed in the views at read time; this app owns no table.
"""

from django.db import models


class PublicSubject(models.Model):
    code = models.CharField(max_length=32)  # USCC, or "N-<id>" for a subject without one (natural persons)
    kind = models.CharField(max_length=24)
    uscc = models.CharField(max_length=18, null=True)  # noqa: DJ001 - null: no USCC, as in the store
    id_number_masked = models.CharField(max_length=64, null=True)  # noqa: DJ001 - null: not a natural person
    name = models.CharField(max_length=200)
    registered = models.BooleanField()
    legal_representative = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    address = models.CharField(max_length=500)
    registration_authority = models.CharField(max_length=200)
    registration = models.JSONField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = 'public_projection"."subjects'

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PublicRecord(models.Model):
    subject = models.ForeignKey(PublicSubject, on_delete=models.DO_NOTHING, related_name="records")
    category = models.CharField(max_length=32)
    data = models.JSONField()  # the current payload, without any ID number
    publicity_from = models.DateField(null=True)
    publicity_until = models.DateField(null=True)
    department_code = models.CharField(max_length=32)
    department_name = models.CharField(max_length=200)
    updated_at = models.DateTimeField()
    under_objection = models.BooleanField()

    class Meta:
        managed = False
        db_table = 'public_projection"."records'

    def __str__(self) -> str:
        return f"{self.category} {self.pk}"


class PublicAlias(models.Model):
    subject = models.ForeignKey(PublicSubject, on_delete=models.DO_NOTHING, related_name="aliases")
    kind = models.CharField(max_length=16)
    value = models.CharField(max_length=200)
    value_key = models.CharField(max_length=200)  # former names: the comparison key; codes: the code

    class Meta:
        managed = False
        db_table = 'public_projection"."aliases'

    def __str__(self) -> str:
        return self.value
