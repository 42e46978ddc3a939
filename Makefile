# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data/sample
AS_OF  ?= 2026-10-01
MERCHANTS ?= 2000

.PHONY: install run demo model test lint typecheck pytest lock clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Install the locked dependencies (hash-checked), then the project itself without deps.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

TRAINING ?= data/training
MODEL    ?= models/scorecard.json

# The default model: trained on a simulated book of 20,000 merchants in four quarterly
# application cohorts, the last cohort held out of time. Built only when missing.
$(TRAINING)/merchants.parquet: | $(STAMP)
	$(BIN)/underwrite simulate --out $(TRAINING) --merchants 20000 --cohorts 4 --as-of $(AS_OF)

$(MODEL): | $(TRAINING)/merchants.parquet
	$(BIN)/underwrite features --data $(TRAINING) --as-of outcomes --out $(TRAINING)/train.parquet
	$(BIN)/underwrite train --data $(TRAINING)/train.parquet --target defaulted_12m --out-of-time $(AS_OF) --out $(MODEL)

model: $(MODEL)

DATABASE ?= sqlite:///data/underwriting.db

$(DATA)/merchants.parquet: | $(STAMP)
	$(BIN)/underwrite simulate --out $(DATA) --merchants $(MERCHANTS) --as-of $(AS_OF) --cohorts 1

# Build what is missing from the embedded defaults (the default model, a simulated sample
# book, the SQLite store and a first officer key, printed once), decide one merchant in
# the terminal, then serve the scoring API on localhost. The curl printed once it answers
# carries the key just created (or $UW_KEY, when no key was created).
run: install $(MODEL) $(DATA)/merchants.parquet
	$(BIN)/underwrite decide --data $(DATA) --merchant M00000001 --as-of $(AS_OF)
	$(BIN)/underwrite db upgrade --database $(DATABASE)
	@created=$$($(BIN)/underwrite keys create --role officer --label "first officer" --if-none --database $(DATABASE)) || exit $$?; \
	echo "$$created"; \
	key=$$(printf '%s\n' "$$created" | sed -n 's/^  \(uwk_[A-Za-z0-9_-]*\)$$/\1/p'); \
	UW_KEY="$${key:-$$UW_KEY}" UW_DATA=$(DATA) UW_MODEL=$(MODEL) $(BIN)/underwrite serve --database $(DATABASE)

# Validate the sample, build its features, score it, and write the model report and one
# merchant's page (out/).
demo: install $(MODEL) $(DATA)/merchants.parquet
	$(BIN)/underwrite features --data $(DATA) --as-of $(AS_OF) --out out/features.parquet --summary
	$(BIN)/underwrite score --model $(MODEL) --features out/features.parquet --out out/scores.parquet
	$(BIN)/underwrite report model --model $(MODEL) --data $(TRAINING)/train.parquet --out out/model-report.html
	$(BIN)/underwrite report merchant --data $(DATA) --merchant M00000001 --as-of $(AS_OF) --out out/merchant-M00000001.html

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The Spark tests need Java 17+ and the workbench tests Chromium, each installed from
# Debian's packages where it is missing.
pytest: install
	scripts/ensure-java
	scripts/ensure-chromium > /dev/null
	$(BIN)/python -m pytest -p no:cacheprovider

test: lint typecheck pytest

# Regenerate the lock file after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 --generate-hashes -o requirements.lock

bench: install
	$(BIN)/python benchmarks/bench_features.py --data $(DATA) --as-of $(AS_OF)

clean:
	rm -rf $(VENV) data out models build *.egg-info
