"""Protected attributes: the characteristics a lender may not score or give as a reason.

Under ECOA and Regulation B (12 CFR 1002) a creditor may not discriminate on race, colour,
religion, national origin, sex, marital status or age (beyond its narrow exception), or
because income comes from public assistance; the demographic answers of the CFPB's
small-business lending rule (women-owned and minority-owned status) are kept out too. A column is protected when its name holds one
of `PROTECTED_TERMS` (or a term the lender adds in the policy file) as a whole word: words
are split at anything that is not a letter or digit and at lower-to-upper case changes,
so "personal.status.and.sex", "ApplicantAge" and "date_of_birth" match and "average" or
"usage" do not. A column may also be declared protected by name (`--protected`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PROTECTED_TERMS: tuple[str, ...] = (
    "sex",
    "gender",
    "race",
    "racial",
    "ethnicity",
    "ethnic",
    "colour",
    "color",
    "religion",
    "religious",
    "national origin",
    "nationality",
    "country of birth",
    "marital",
    "married",
    "age",
    "date of birth",
    "birth date",
    "birthdate",
    "dob",
    "year of birth",
    "public assistance",
    "women owned",
    "woman owned",
    "minority owned",
)
"""Terms of the ECOA / Reg B prohibited bases, as words a column's name may hold."""

_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")


def words_of(name: str) -> tuple[str, ...]:
    """The lower-case words of a column's or term's name."""
    return tuple(w.lower() for w in _NOT_WORD.split(_CASE_CHANGE.sub(" ", name)) if w)


def _holds(words: tuple[str, ...], term: tuple[str, ...]) -> bool:
    return any(words[i : i + len(term)] == term for i in range(len(words) - len(term) + 1))


def protected_columns(
    columns: Iterable[str], extra_terms: Iterable[str] = (), declared: Iterable[str] = ()
) -> dict[str, str]:
    """Each protected column among `columns`, with the term (or "declared") that makes it so."""
    terms = [words_of(t) for t in (*PROTECTED_TERMS, *extra_terms)]
    chosen = set(declared)
    found: dict[str, str] = {}
    for column in columns:
        if column in chosen:
            found[column] = "declared protected"
            continue
        words = words_of(column)
        term = next((t for t in terms if t and _holds(words, t)), None)
        if term is not None:
            found[column] = " ".join(term)
    return found


def refusal(found: Mapping[str, str]) -> str:
    """The one-line error for protected columns offered as features."""
    named = ", ".join(f"{c!r} ({why})" for c, why in found.items())
    return (
        f"protected attribute(s) {named} may not be model features (ECOA / Reg B prohibited "
        "bases); leave them out with --exclude, or where the law allows it pass "
        "--allow-protected COLUMN --reason TEXT, which the model artifact records"
    )
