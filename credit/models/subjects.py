"""Credit subjects (信用主体): legal persons keyed by USCC, natural persons by a
blind index of their ID number (the number itself is stored only encrypted)."""

from django.db import models
from django.db.models import Q


class SubjectKind(models.TextChoices):
    LEGAL_PERSON = "legal_person"
    INDIVIDUAL_BUSINESS = "individual_business"
    NATURAL_PERSON = "natural_person"


class Subject(models.Model):
    kind = models.CharField(max_length=24, choices=SubjectKind.choices)
    # legal persons and individual businesses
    uscc = models.CharField(max_length=18, null=True, blank=True)  # noqa: DJ001 null = no USCC, outside the unique constraint
    # natural persons: AES-GCM ciphertext (nonce ‖ ct ‖ tag), HMAC-SHA256 blind index, display mask
    id_type = models.CharField(max_length=16, blank=True, default="")
    id_number_encrypted = models.BinaryField(null=True, blank=True)
    id_number_index = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 as uscc
    id_number_masked = models.CharField(max_length=64, blank=True, default="")

    name = models.CharField(max_length=200)
    name_key = models.CharField(max_length=200)  # NFKC + bracket-normalised name, for comparison only
    # Golden fields, from the subject's registration (empty until one arrives).
    registered = models.BooleanField(default=False)
    legal_representative = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, blank=True, default="")
    address = models.CharField(max_length=500, blank=True, default="")
    registration_authority = models.CharField(max_length=200, blank=True, default="")
    registration = models.JSONField(default=dict, blank=True)  # the current registration payload
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "信用主体"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["uscc"], condition=Q(uscc__isnull=False), name="subject_unique_uscc"),
            models.UniqueConstraint(fields=["id_number_index"], condition=Q(id_number_index__isnull=False),
                                    name="subject_unique_id_index"),
            models.CheckConstraint(condition=Q(uscc__isnull=False) | Q(id_number_index__isnull=False),
                                   name="subject_has_key"),
        ]

    def __str__(self) -> str:
        return f"{self.uscc or self.id_number_masked} {self.name}"

    @property
    def code(self) -> str:
        """The subject's key as it may be shown: USCC, or the masked ID number."""
        return self.uscc or self.id_number_masked


class AliasKind(models.TextChoices):
    FORMER_NAME = "former_name"
    REGISTRATION_NO = "registration_no"
    ORG_CODE = "org_code"


class SubjectAlias(models.Model):
    """Former names and legacy codes (registration number, organisation code) of a subject."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="aliases")
    kind = models.CharField(max_length=16, choices=AliasKind.choices)
    value = models.CharField(max_length=200)
    value_key = models.CharField(max_length=200)  # former names: the comparison key; codes: the code
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "主体曾用名与旧代码"
        ordering = ["subject", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "kind", "value_key"], name="subject_alias_unique"),
            # a legacy code names one subject only
            models.UniqueConstraint(fields=["kind", "value_key"], condition=~Q(kind="former_name"),
                                    name="subject_alias_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"
