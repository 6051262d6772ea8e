"""Credit reports (信用报告, portal.md §6) as issued: the PDF itself is handed over, the platform keeps its
digest and a JWS over it, so anyone can verify a copy later by its number."""

from django.db import models


class ReportScope(models.TextChoices):
    PUBLIC = "public"  # exactly what the public site shows
    OWN = "own"  # every record with its publicity state


class CreditReport(models.Model):
    number = models.CharField(max_length=40, unique=True)  # random: not guessable
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="reports")
    scope = models.CharField(max_length=8, choices=ReportScope.choices)
    issued_at = models.DateTimeField()
    issued_by = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)  # hex digest of the PDF's bytes
    jws = models.TextField()  # EdDSA, the receipt keys, over {number, uscc, scope, issued_at, sha256}

    class Meta:
        verbose_name = verbose_name_plural = "信用报告"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"report {self.number}"
