"""Runs a script of SQL statements through Alembic, one statement at a time.

asyncpg prepares every statement it is given, and a prepared statement holds only one command.
"""

from __future__ import annotations

from alembic import op


def split_statements(script: str) -> list[str]:
    """Split on semicolons that end a line; our migrations put none inside literals."""
    statements = []
    current: list[str] = []
    for line in script.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip().removesuffix(";"))
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return [statement for statement in statements if statement]


def execute_script(script: str) -> None:
    for statement in split_statements(script):
        op.execute(statement)
