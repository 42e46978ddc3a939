"""Rule sets as folders: `rules/<version>/policy.toml` beside `rules.toml`, read from disk
and checked by `underwriting.policy.rules.check_rules`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from underwriting.errors import PolicyError
from underwriting.policy.examples import FILE as EXAMPLES_FILE
from underwriting.policy.examples import Examples, parse_examples
from underwriting.policy.invariants import FILE as INVARIANTS_FILE
from underwriting.policy.invariants import Invariants, parse_invariants
from underwriting.policy.parameters import Policy, parse_policy, version_of
from underwriting.policy.rules import Problem, RuleSet, check_rules


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def load_policy(folder: Path) -> tuple[Policy, str]:
    """The policy of a rule-set folder, and its version: folder name plus content hash."""
    path = folder / "policy.toml"
    raw = _read(path)
    if raw is None:
        raise PolicyError(f"{path}: no policy file; every rule set needs policy.toml")
    return parse_policy(raw, str(path)), version_of(folder.name, raw)


def check_rule_set(folder: Path) -> tuple[list[Problem], RuleSet | None]:
    """Every problem of the rule set in `folder`, and the rule set when there are none."""
    policy, rules = folder / "policy.toml", folder / "rules.toml"
    return check_rules(
        folder.name,
        _read(policy),
        _read(rules),
        policy_source=str(policy),
        rules_source=str(rules),
    )


def load_rule_set(folder: Path) -> RuleSet:
    """The checked rule set in `folder`; any problem is a PolicyError listing them all."""
    problems, rule_set = check_rule_set(folder)
    if rule_set is None:
        listed = "\n  ".join(str(p) for p in problems)
        raise PolicyError(
            f"rule set {folder} cannot be used ({len(problems)} problem(s)):\n  {listed}"
        )
    return rule_set


def load_examples(folder: Path) -> Examples | None:
    """The rule set's examples (`examples.toml`), or None when it has none."""
    path = folder / EXAMPLES_FILE
    raw = _read(path)
    return None if raw is None else parse_examples(raw, str(path))


def load_invariants(folder: Path) -> Invariants | None:
    """The rule set's invariants (`invariants.toml`), or None when it has none."""
    path = folder / INVARIANTS_FILE
    raw = _read(path)
    return None if raw is None else parse_invariants(raw, str(path))


REVIEW_FILE = "review.toml"
MAX_REASON_LENGTH = 200


def load_override_reasons(folder: Path) -> tuple[str, ...]:
    """The override reasons an officer chooses from when reviewing a referral
    (`override_reasons` in the rule set's review.toml; none when it has no such file).
    They decide nothing, so they are not part of the rule set's version."""
    path = folder / REVIEW_FILE
    raw = _read(path)
    if raw is None:
        return ()
    try:
        parsed = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: not valid TOML ({error}); fix the file") from None
    reasons = parsed.get("override_reasons")
    if (
        not isinstance(reasons, list)
        or not reasons
        or not all(isinstance(r, str) and 0 < len(r.strip()) <= MAX_REASON_LENGTH for r in reasons)
    ):
        raise PolicyError(
            f"{path}: override_reasons must be a list of texts of 1 to {MAX_REASON_LENGTH} "
            'characters, e.g. override_reasons = ["Sales verified with bank statements"]'
        )
    if len(set(reasons)) != len(reasons):
        raise PolicyError(f"{path}: override_reasons lists a reason twice; list each once")
    return tuple(r.strip() for r in reasons)
