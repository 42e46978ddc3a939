"""The feature registry and the feature computation (pure polars queries)."""
