"""Model artifacts as files: written atomically, read and checked (see `Scorecard.from_json`)."""

from __future__ import annotations

from pathlib import Path

from underwriting.errors import PolicyError
from underwriting.model.artifact import Scorecard


def save_model(model: Scorecard, path: Path) -> None:
    """Write the artifact as JSON, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(model.to_json())
    partial.replace(path)


def load_model(path: Path) -> Scorecard:
    """Read and check an artifact; a missing, damaged or edited file is a PolicyError."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(f"{path}: no model artifact; train one with `underwrite train`") from None
    return Scorecard.from_json(text, str(path))
