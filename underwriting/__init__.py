"""Small-business credit underwriting engine.

The front door: the engine and what it decides with (a model artifact, a rule set, a data
folder), the decision's schema and the errors.
"""

from underwriting.applications import Application, Prepared
from underwriting.decision import DECISION_SCHEMA, Decision
from underwriting.engine import Engine
from underwriting.errors import (
    InputError,
    MissingColumnsError,
    PolicyError,
    UnderwritingError,
    UnreadableTableError,
)
from underwriting.io.artifacts import load_model, save_model
from underwriting.io.data_folder import DataFolder
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.rules import RuleSet

__all__ = [
    "DECISION_SCHEMA",
    "Application",
    "DataFolder",
    "Decision",
    "Engine",
    "InputError",
    "MissingColumnsError",
    "PolicyError",
    "Prepared",
    "RuleSet",
    "Scorecard",
    "UnderwritingError",
    "UnreadableTableError",
    "load_model",
    "load_rule_set",
    "save_model",
]
