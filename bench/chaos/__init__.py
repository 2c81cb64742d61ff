"""The chaos run: steady traffic while faults hit every part of the pipeline, then a
reconciliation of what was acknowledged with what every store holds."""
