# The service image, for people who run their own Kafka, MongoDB and PostgreSQL.
FROM python:3.11-slim-bookworm

# pyspark's jobs need a Java runtime; the service itself does not.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/movie-pipeline
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY jobs ./jobs
COPY migrations ./migrations
RUN pip install --no-cache-dir .

ENV API_HOST=0.0.0.0 API_PORT=8000
EXPOSE 8000
USER nobody
CMD ["sh", "-c", "python -m app.ops.prestart && exec python -m app"]
