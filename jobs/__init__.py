"""Jobs that build the model tables: Spark for the stream, pandas as its fallback."""
