# The pipeline's image, for people who run their own Kafka, MongoDB and PostgreSQL (or
# compose.yaml's): the service, the Spark stream and every job.
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

# Spark's Kafka connector and PostgreSQL driver, resolved from Maven Central at build time the
# way spark.jars.packages does, so the stream starts without the network. The same versions as
# devstack/spark/pom.xml (a unit test checks it).
ARG SPARK_JARS_PACKAGES=org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0,org.postgresql:postgresql:42.7.14
RUN python -m app.jobs spark-jars /opt/spark-jars --packages "$SPARK_JARS_PACKAGES"
# The checkpoint's folder, owned by the user the stream runs as: a volume mounted there
# starts with this owner.
RUN mkdir -p /var/lib/movie-pipeline/spark-checkpoint \
    && chown nobody /var/lib/movie-pipeline/spark-checkpoint

ENV API_HOST=0.0.0.0 API_PORT=8000 OPS_HOST=0.0.0.0 OPS_PORT=8001 \
    SPARK_JARS=/opt/spark-jars \
    SPARK_CHECKPOINT_DIR=/var/lib/movie-pipeline/spark-checkpoint
EXPOSE 8000 8001
USER nobody
CMD ["sh", "-c", "python -m app.ops.prestart && exec python -m app"]
