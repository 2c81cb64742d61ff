"""The analysts' login: may read the `analytics` schema and nothing else. Idempotent, so every
prestart can run it; the password follows the settings."""

from __future__ import annotations

from app.db.postgres import PostgresPool

# Identifiers and the password are quoted by PostgreSQL's own format(), never by string building.
ROLE_OPTIONS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L"
CREATE = f"SELECT format('CREATE ROLE %I {ROLE_OPTIONS}', $1::text, $2::text)"
UPDATE = f"SELECT format('ALTER ROLE %I {ROLE_OPTIONS}', $1::text, $2::text)"
GRANTS = (
    "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text)",
    "SELECT format('GRANT USAGE ON SCHEMA analytics TO %I', $1::text)",
    "SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO %I', $1::text)",
    "SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO %I',"
    " $1::text)",
    # Nothing it runs may write, whatever it asks for.
    "SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', $1::text)",
)


async def ensure_analytics_role(postgres: PostgresPool, role: str, password: str) -> bool:
    """Create or update the role; True if it was created."""
    async with postgres.connection() as connection, connection.transaction():
        exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        statement = await connection.fetchval(UPDATE if exists else CREATE, role, password)
        await connection.execute(statement)
        for grant in GRANTS:
            await connection.execute(await connection.fetchval(grant, role))
    return not exists
