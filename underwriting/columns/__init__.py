"""How the engine builds and holds columns: one chunk each, and list columns from tokens."""
