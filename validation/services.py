"""Loading the catalog file into the database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.db import transaction

from validation.catalog import CATALOG_FILE, catalog_from_document, heading_conflicts, read_catalog_file
from validation.models import CatalogVersion


class CatalogError(Exception):
    pass


@transaction.atomic
def catalog_load(*, path: Path = CATALOG_FILE) -> tuple[CatalogVersion, bool]:
    """Load (or refresh) the catalog file's version. Returns (row, changed).

    The same version with different content is refused: a published version is a
    contract, so a change must come as a new version number.
    """
    document = json.loads(json.dumps(read_catalog_file(path), default=str))  # dates → ISO strings
    try:
        catalog = catalog_from_document(document)  # refuse a document we cannot use
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"the catalog file cannot be used: {exc}") from exc
    conflicts = heading_conflicts(catalog)
    if conflicts:  # a column under such a heading could not be placed: fix the file before it is published
        raise CatalogError("a column heading is claimed by two fields; give it to one of them:\n  "
                           + "\n  ".join(conflicts))
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    existing = CatalogVersion.objects.select_for_update().filter(version=document["version"]).first()
    if existing is None:
        row = CatalogVersion.objects.create(version=document["version"], effective_from=document["effective_from"],
                                            sha256=digest, document=document)
        return row, True
    if existing.sha256 != digest:
        raise CatalogError(
            f"catalog version {existing.version} is already loaded with different content; "
            "publish the change as a new version number"
        )
    return existing, False
