"""Insert new model instances in one SQL statement: for rows written on every request (the ask's log).

`instances_insert(conversation, log)` is `conversation.save(); log.save()` in one round trip, and
without the ORM's save() machinery: measured in a loop against the benchmark's PostgreSQL, the two
ORM inserts of an ask took 0.49 ms of CPU and two round trips, this 0.12 ms and one (bench/README.md,
change 28). What is kept of save(): each field's own
pre_save (auto_now_add, defaults already set by the instance) and its conversion for the database
(get_db_prep_save), so every value is written as save() would write it. What is skipped: the
pre_save/post_save signals (so it is for models nothing listens to), and model validation, as save()
skips it too. Primary keys must be set in Python (UUIDs, as here): nothing is read back.

The instances go in as data-modifying CTEs of one INSERT. One row may point at another: PostgreSQL
checks Django's foreign keys (DEFERRABLE INITIALLY DEFERRED) at commit, when both rows are there.
"""

from functools import cache

from django.db import connections
from django.db.models import Model


@cache
def _insert_sql(model: type[Model], alias: str) -> tuple[str, tuple]:
    connection = connections[alias]
    fields = tuple(model._meta.local_concrete_fields)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", fields  # noqa: S608 - names from the model


def instances_insert(*instances: Model, using: str = "default") -> None:
    """Write the (unsaved) instances as new rows, in one statement; they are then as if saved."""
    connection = connections[using]
    statements, params = [], []
    for instance in instances:
        model = type(instance)
        if model._meta.parents or instance.pk is None:
            raise ValueError(f"{model.__name__}: only models without parents and with the primary key set in Python")
        sql, fields = _insert_sql(model, using)
        statements.append(sql)
        for field in fields:
            params.append(field.get_db_prep_save(field.pre_save(instance, True), connection=connection))
    *ctes, last = statements
    sql = f"WITH {', '.join(f'_row{n} AS ({cte})' for n, cte in enumerate(ctes))} {last}" if ctes else last
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = using
