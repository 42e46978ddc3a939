"""The synthetic merchant book: its industries, daily data and benchmarks."""
