"""The pandas fallback that builds fallback facts from staging when Spark lags."""
