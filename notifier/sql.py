from django.db import connection


def fetch_all(sql: str, params: dict[str, object]) -> list[tuple]:
    """Run one raw statement and return all its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
