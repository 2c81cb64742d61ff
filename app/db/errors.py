"""Faults of a store as a whole, as every writer and reader sees them."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The store could not be reached; the work is retried later and nothing is committed."""
