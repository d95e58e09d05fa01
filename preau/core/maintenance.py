"""Database upkeep: planner statistics after bulk loads.

SQLite keeps no statistics until ANALYZE runs: on a million-row fleet its planner then picks
the wrong index (the fleet bench: a filtered list 900 ms without statistics, 30 ms with them).
PostgreSQL's autovacuum analyses by itself, but only some time after a bulk load. So Préau
analyses after its own bulk writes (imports, the demo) and `preau analyze` does it on demand
(nightly from cron in production, see docs/deployment.md).
"""

from django.db import connections, router


def analyze(models=None, using: str | None = None) -> None:
    """ANALYZE the tables of `models` (all tables when None). Outside any transaction on PostgreSQL
    is not required; on SQLite a full ANALYZE of a million rows takes about a second."""
    if models:
        aliases = {using or router.db_for_write(m) for m in models}
    else:
        aliases = {using or "default"}
    for alias in aliases:
        connection = connections[alias]
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            if not models:
                cursor.execute("ANALYZE")
                continue
            for model in models:
                cursor.execute(f"ANALYZE {qn(model._meta.db_table)}")


def analyze_on_commit(models=None) -> None:
    """ANALYZE once the current transaction commits (right away outside one)."""
    from django.db import transaction

    transaction.on_commit(lambda: analyze(models))
