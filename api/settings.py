"""Where the API finds its model, rules, data and database: environment variables with the
embedded defaults that `make run` builds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, once, at start-up."""

    database_url: str = "sqlite:///data/underwriting.db"
    model: Path = Path("models/scorecard.json")
    models_dir: Path = Path("models")
    rules: Path = Path("rules/v1")
    rules_root: Path = Path("rules")
    data: Path = Path("data/sample")
    max_body_bytes: int = 2 * 1024 * 1024
    challenger_rules: Path | None = None
    """A challenger rule set: every decision is also made with it and stored beside, never
    answered (`api.shadow`)."""
    challenger_model: Path | None = None
    """The challenger's model (default: the live model)."""
    lookup_rows_in_memory: int = 2_000_000
    """A daily table of the data source with at most this many rows is held in memory for
    by-id lookups (about 50 bytes a row, in each worker); a larger one is scanned."""

    @classmethod
    def from_environment(cls) -> Settings:
        """UW_DATABASE_URL, UW_MODEL, UW_MODELS_DIR, UW_RULES, UW_RULES_ROOT, UW_DATA,
        UW_MAX_BODY_BYTES, UW_CHALLENGER_RULES, UW_CHALLENGER_MODEL and
        UW_LOOKUP_ROWS_IN_MEMORY; each unset (or empty) one keeps its default."""
        env = os.environ
        default = cls()
        challenger_rules = env.get("UW_CHALLENGER_RULES") or None
        challenger_model = env.get("UW_CHALLENGER_MODEL") or None
        return cls(
            database_url=env.get("UW_DATABASE_URL", default.database_url),
            model=Path(env.get("UW_MODEL", default.model)),
            models_dir=Path(env.get("UW_MODELS_DIR", default.models_dir)),
            rules=Path(env.get("UW_RULES", default.rules)),
            rules_root=Path(env.get("UW_RULES_ROOT", default.rules_root)),
            data=Path(env.get("UW_DATA", default.data)),
            max_body_bytes=int(env.get("UW_MAX_BODY_BYTES", default.max_body_bytes)),
            challenger_rules=Path(challenger_rules) if challenger_rules else None,
            challenger_model=Path(challenger_model) if challenger_model else None,
            lookup_rows_in_memory=int(
                env.get("UW_LOOKUP_ROWS_IN_MEMORY", default.lookup_rows_in_memory)
            ),
        )
