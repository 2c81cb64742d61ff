"""The movie review pipeline's service: event ingest, consumers, scheduler and public API."""
