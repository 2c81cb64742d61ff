"""Operator commands: `python -m app.jobs <command>`."""
