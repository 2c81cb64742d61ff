"""The local stack: Kafka, FerretDB, PostgreSQL and Spark's jars, fetched into a cache and run on
127.0.0.1 without Docker. `python -m devstack up|down|status`."""
