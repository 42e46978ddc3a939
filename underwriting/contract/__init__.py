"""The data contract: the input tables, their bounds, and pure row validation."""
