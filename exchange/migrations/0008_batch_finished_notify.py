"""Tell waiting readers when a batch finishes: NOTIFY exchange_batch_finished with the batch's id.

A trigger rather than a call in the pipeline, so that every way a batch reaches `completed` or `failed`
(the pipeline, a failure path, an operator's repair) wakes the requests that wait for it
(exchange-protocol `Prefer: wait`, exchange/waiting.py). PostgreSQL delivers the notification at commit.
"""

from django.db import migrations

CHANNEL = "exchange_batch_finished"

CREATE = f"""
CREATE FUNCTION exchange_batch_finished_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER exchange_batch_finished_notify
    AFTER UPDATE OF status ON exchange_batch
    FOR EACH ROW
    WHEN (NEW.status IN ('completed', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION exchange_batch_finished_notify();
"""

DROP = """
DROP TRIGGER exchange_batch_finished_notify ON exchange_batch;
DROP FUNCTION exchange_batch_finished_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("exchange", "0007_console_groups")]

    operations = [migrations.RunSQL(CREATE, DROP)]
