"""The PD model artifact: a scorecard as versioned JSON, never pickle.

The artifact holds, per feature, its bins with their weights of evidence and the fitted
coefficient; the intercept; the scorecard scaling; what training dropped and why; the
training data's fingerprint and metrics. Its version is a hash of its own content, so
the same model always has the same version and any change gives a new one. JSON floats
round-trip exactly, so a loaded model scores to the last bit like the one saved.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from underwriting.errors import PolicyError
from underwriting.model.metrics import Discrimination
from underwriting.policy.parameters import Scaling

FORMAT: Final = "underwriting.scorecard/1"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericBinning(_Frozen):
    """Bin i holds edges[i-1] <= value < edges[i]; missing values have their own bin."""

    kind: Literal["numeric"] = "numeric"
    edges: tuple[float, ...]
    woe: tuple[float, ...]
    counts: tuple[int, ...]
    bads: tuple[int, ...]
    missing_woe: float
    missing_count: int
    missing_bads: int
    trend: Literal["ascending", "descending"]


class CategoricalBinning(_Frozen):
    """A bin per category; "__other__" takes rare and unseen categories."""

    kind: Literal["categorical"] = "categorical"
    categories: tuple[str, ...]
    woe: tuple[float, ...]
    counts: tuple[int, ...]
    bads: tuple[int, ...]


Binning = Annotated[NumericBinning | CategoricalBinning, Field(discriminator="kind")]


class ModelFeature(_Frozen):
    """One feature of the scorecard and its fitted coefficient (on the WoE scale)."""

    name: str
    binning: Binning
    coefficient: float
    std_error: float
    p_value: float
    information_value: float
    direction_source: Literal["registry", "data"]


class Dropped(_Frozen):
    """A candidate feature training left out, and the reason in words."""

    feature: str
    reason: str


class GradeCalibration(_Frozen):
    grade: str
    rows: int
    predicted_pd: float
    observed_rate: float


class ScoreDistribution(_Frozen):
    """The training part's scores cut at their deciles: the baseline for score drift (PSI)."""

    part: str
    edges: tuple[float, ...]
    shares: tuple[float, ...]


class Training(_Frozen):
    """Where the model came from and how well it did."""

    target: str
    data_fingerprint: str
    rows: int
    columns: tuple[str, ...]
    split: dict[str, Any]
    selection: dict[str, float]
    metrics: dict[str, Discrimination]
    calibration: tuple[GradeCalibration, ...]
    hosmer_lemeshow: dict[str, float]
    policy_version: str
    score_distribution: ScoreDistribution | None = None
    """Absent from artifacts trained before it was recorded (their version stays valid)."""
    protected_allowed: dict[str, str] = Field(default_factory=dict)
    """Protected attributes allowed as features, each with the reason given (never a
    reason to an applicant); empty in most models, and then left out of the hash."""
    warnings: tuple[str, ...] = ()
    """What training warned of (a separated fit, no feature kept); left out when none."""


class Scorecard(_Frozen):
    """Everything needed to score, explain and audit the model."""

    format: Literal["underwriting.scorecard/1"] = FORMAT
    intercept: float
    intercept_std_error: float
    features: tuple[ModelFeature, ...]
    scaling: Scaling
    dropped: tuple[Dropped, ...]
    training: Training
    version: str = ""

    def content_hash(self) -> str:
        """Hash of the canonical JSON of everything but the version itself."""
        body = self.model_dump(mode="json", exclude={"version"})
        optional: dict[str, object] = {
            "score_distribution": None,
            "protected_allowed": {},
            "warnings": [],
        }
        for name, absent in optional.items():  # fields newer than some artifacts
            if body["training"].get(name) == absent:
                del body["training"][name]
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def intact(self) -> bool:
        """Whether the content still matches the version it was saved with."""
        return self.version == f"scorecard-{self.content_hash()}"

    def with_version(self) -> Scorecard:
        return self.model_copy(update={"version": f"scorecard-{self.content_hash()}"})

    def to_json(self) -> str:
        """The artifact as JSON text: keys sorted, one space of indent, no NaN."""
        body = json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True, allow_nan=False)
        return body + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> Scorecard:
        """The artifact in `text` (from `source`, named in errors), checked: a document that
        is not a scorecard, or whose content does not match its version, is a PolicyError."""
        try:
            model = cls.model_validate_json(text)
        except ValidationError as error:
            raise PolicyError(
                f"{source}: not a scorecard artifact ({error.error_count()} problems: "
                f"{error.errors()[0]['msg']} at {error.errors()[0]['loc']})"
            ) from None
        if not model.intact:
            raise PolicyError(
                f"{source}: content does not match its version {model.version}; the file was "
                "changed after training. Retrain instead of editing the artifact"
            )
        return model
