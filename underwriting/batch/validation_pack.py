"""The monthly validation pack and the fair-lending screen of a run, from files to files
(the I/O edge of `underwriting.reports.validation_figures`).

`validation_pack` decides the matured cohorts again (`underwriting.batch.matured`), reads
the owners table, the store's referrals and earlier runs, and writes the page and its
figures as JSON beside it. `screen_run` writes the fair-lending screen of a finished
re-scoring run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from underwriting.batch.matured import decide_matured
from underwriting.batch.rescore import (
    MANIFEST,
    atomic_write,
    read_decisions,
    reason_texts,
    write_json,
)
from underwriting.engine import Engine
from underwriting.errors import InputError
from underwriting.fairness.owners import OWNERS_FILE, read_owners
from underwriting.fairness.screen import SCREENED_COLUMNS, without_owners
from underwriting.io.review_log import read_referrals, shown_url
from underwriting.reports.validation import fair_lending_report, validation_report
from underwriting.reports.validation_figures import (
    RunRules,
    ValidationFigures,
    as_json,
    fairness,
    json_ready,
    validation_figures,
)


@dataclass(frozen=True)
class Written:
    """What a pack wrote: its figures, the page and the JSON beside it."""

    figures: ValidationFigures
    page: Path
    json: Path


def owners_for(data_dir: Path, given: Path | None) -> Path | None:
    """The owners table to screen with: the one given, else the data folder's, if any."""
    if given is not None:
        return given
    found = data_dir / OWNERS_FILE
    return found if found.exists() else None


def read_run(run: Path) -> RunRules:
    """A finished run's rules fired per merchant, named by its as-of date and rule set."""
    manifest_path = run / MANIFEST
    if not manifest_path.exists():
        raise InputError(
            f"--runs {run}: not a finished run directory (no {MANIFEST}); give folders that "
            "`underwrite rescore` finished"
        )
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    name = f"{manifest.get('as_of')} {manifest.get('rule_set_version')}"
    return RunRules(name, manifest, read_decisions(run, ("merchant_id", "rules_fired")))


def _write_page(path: Path, html: str) -> None:
    atomic_write(path, lambda p: p.write_text(html, encoding="utf-8"))


def validation_pack(
    data_dir: Path,
    engine: Engine,
    on: dt.date,
    out: Path,
    *,
    rules_dir: Path,
    owners: Path | None = None,
    database: str | None = None,
    runs: Sequence[Path] = (),
    chunk_merchants: int = 50_000,
    progress: Callable[[int], object] | None = None,
) -> Written:
    """Write the validation page to `out` and its figures to `out` with .json. The owners
    table, store and runs are read (and checked) before the long part starts."""
    owners_path = owners_for(data_dir, owners)
    owners_table = read_owners(owners_path) if owners_path is not None else None
    referrals = read_referrals(database) if database is not None else None
    earlier = [read_run(run) for run in runs]
    matured = decide_matured(
        data_dir, engine, on, chunk_merchants=chunk_merchants, progress=progress
    )
    grades = [band.grade for band in engine.rules.policy.master_scale]
    scope: dict[str, Any] = {
        "on": on.isoformat(),
        "data": str(data_dir),
        "model_version": engine.model.version,
        "rule_set_version": engine.rules.version,
        "rule_set": str(rules_dir),
        "matured_applications": int(matured.cohorts.filter("matured")["merchants"].sum()),
        "decided": matured.decisions.height,
        "model_features": len(engine.model.features),
        "quarantined_rows": matured.quarantined,
        "owners": str(owners_path) if owners_path else "none",
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if database is not None:
        scope["database"] = shown_url(database)  # no password on the page
    figures = validation_figures(
        model=engine.model,
        reasons=reason_texts(engine),
        grades=grades,
        scope=scope,
        cohorts=matured.cohorts,
        decisions=matured.decisions,
        features=matured.features,
        reviews=referrals,
        runs=earlier,
        owners=owners_table,
    )
    json_path = out.with_suffix(".json")
    _write_page(out, validation_report(figures))
    write_json(json_path, as_json(figures))
    return Written(figures, out, json_path)


def screen_run(
    run: Path, engine: Engine, owners: pl.DataFrame
) -> tuple[dict[str, pl.DataFrame], Path]:
    """The fair-lending screen of the finished run in `run` against the owners table (read
    by `read_owners`), written to the run's fair-lending.html and fair-lending.json; returns
    its tables and the page."""
    decisions = read_decisions(run, SCREENED_COLUMNS)
    found = fairness(engine.model, decisions, None, owners)
    missing = without_owners(decisions, owners)
    page = run / "fair-lending.html"
    title = f"Fair-lending screen: {engine.model.version}, rule set {engine.rules.version}"
    _write_page(page, fair_lending_report(title, found, missing, reason_texts(engine)))
    body = {k: v.to_dicts() for k, v in found.items()} | {"without_owners": missing}
    write_json(run / "fair-lending.json", json_ready(body))
    return found, page
