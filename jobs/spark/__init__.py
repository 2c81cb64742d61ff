"""Spark Structured Streaming from the Kafka topics into the model tables."""
