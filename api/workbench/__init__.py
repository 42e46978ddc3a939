"""The loan officer's workbench: web pages on the scoring API (see `pages`)."""
