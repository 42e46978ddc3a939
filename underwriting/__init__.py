"""Small-business credit underwriting engine.

The public front door: the data contract, the loader, the feature pipeline and the
simulator. Engine functions are pure (polars frames in, frames out); I/O happens only in
`loader`, `pipeline`, `simulate` and the CLI.
"""

from underwriting.batch.feature_table import FeatureBuild, build_feature_table
from underwriting.contract.tables import TABLES, Table
from underwriting.contract.validation import Portfolio, ValidatedTable, open_portfolio, validate
from underwriting.errors import (
    InputError,
    MissingColumnsError,
    PolicyError,
    UnderwritingError,
    UnreadableTableError,
)
from underwriting.features.compute import against_industry, build_features, own_features
from underwriting.features.registry import FEATURES, Feature, feature_schema
from underwriting.simulate.book import SimulationConfig, simulate

__all__ = [
    "FEATURES",
    "TABLES",
    "Feature",
    "FeatureBuild",
    "InputError",
    "MissingColumnsError",
    "PolicyError",
    "Portfolio",
    "SimulationConfig",
    "Table",
    "UnderwritingError",
    "UnreadableTableError",
    "ValidatedTable",
    "against_industry",
    "build_feature_table",
    "build_features",
    "feature_schema",
    "open_portfolio",
    "own_features",
    "simulate",
    "validate",
]
