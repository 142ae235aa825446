from django.db import connection


def fetch_all(sql: str, params: dict[str, object]) -> list[tuple]:
    """Run one raw statement and return all its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def literals(*values: str) -> str:
    """Our own enum values (never user input) as SQL literals, e.g. ``'planned', 'armed'``:
    the statements name states through ``NotificationState``, and a literal state list lets
    the planner match the partial index's predicate."""
    return ", ".join(f"'{value}'" for value in map(str, values))
