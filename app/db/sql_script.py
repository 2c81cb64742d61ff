"""Runs a script of SQL statements through Alembic, one statement at a time.

asyncpg prepares every statement it is given, and a prepared statement holds only one command.
"""

from __future__ import annotations

import re

from alembic import op

DOLLAR_QUOTE = re.compile(r"\$[A-Za-z_]*\$")


def split_statements(script: str) -> list[str]:
    """Split on semicolons that end a line, outside dollar-quoted bodies (of functions); our
    migrations put none inside literals."""
    statements = []
    current: list[str] = []
    in_body = False
    for line in script.splitlines():
        current.append(line)
        in_body ^= len(DOLLAR_QUOTE.findall(line)) % 2 == 1
        if not in_body and line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip().removesuffix(";"))
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return [statement for statement in statements if statement]


def execute_script(script: str) -> None:
    for statement in split_statements(script):
        op.execute(statement)
