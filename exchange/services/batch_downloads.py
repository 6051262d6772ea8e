"""An operator downloads a batch file as the department sent it (the console's batch page)."""

from __future__ import annotations

import io

from django.db import transaction

from exchange.exchange_log import log_append, log_lock
from exchange.models import Batch
from filestore.storage import stored_file_open


def batch_file_download(*, batch_pk: int, by: str) -> tuple[Batch, io.BufferedReader]:
    """The stored bytes, decrypted as they are read. The file may hold ID numbers: every download is
    entered in the exchange log (who, which batch) before a byte leaves, and only once the file opened."""
    batch = Batch.objects.select_related("department").get(pk=batch_pk)
    stream = stored_file_open(batch.storage_path)
    try:
        with transaction.atomic():
            log_lock()
            log_append(kind="batch_file_downloaded", department_code=batch.department.code,
                       payload={"batch": batch.pk, "batch_id": batch.batch_id, "by": by})
    except BaseException:
        stream.close()
        raise
    return batch, stream
