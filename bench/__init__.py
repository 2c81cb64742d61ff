"""Throughput benchmarks of the pipeline's components against bare clients (see README.md)."""
