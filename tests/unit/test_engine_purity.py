"""The engine's pure modules never import the I/O edge (loader, pipeline, CLI, simulator)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "underwriting"
PURE = [
    "contract/tables",
    "features/registry",
    "features/compute",
    "simulate/industry_benchmarks",
    "errors",
    "simulate/industries",
]
EDGE = {
    "underwriting.contract.validation",
    "underwriting.batch.feature_table",
    "underwriting.cli",
    "underwriting.simulate.book",
    "underwriting.io.docs",
}
BANNED = {"pickle", "joblib", "subprocess"}


def imports(module: str) -> set[str]:
    tree = ast.parse((ENGINE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io_edge(module: str) -> None:
    assert not imports(module) & (EDGE | BANNED)


@pytest.mark.parametrize("module", PURE)
def test_pure_module_reads_no_files(module: str) -> None:
    source = (ENGINE / f"{module}.py").read_text()
    for reader in ("read_parquet", "scan_parquet", "read_csv", "scan_csv", "open(", "write_"):
        assert reader not in source, f"{module} uses {reader}"
