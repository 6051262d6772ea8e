from django.db import models


class CatalogVersion(models.Model):
    """One published version of the catalog, as loaded from validation/catalog/*.yaml."""

    version = models.PositiveIntegerField(unique=True)
    effective_from = models.DateField()
    sha256 = models.CharField(max_length=64)
    document = models.JSONField()
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"catalog v{self.version}"
