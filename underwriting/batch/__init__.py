"""Batch runs over a data folder: the feature table, re-scoring, and Spark."""
