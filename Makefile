# Two entry points on a fresh machine: `make demo` and `make test` (each creates .venv first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint format run bench bench-freshness bench-archive-age golden schema-doc browse clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,web]'
	touch $(STAMP)

# The benchmarks' own extra (`bench`), over the test install.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,web,bench]'
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/aaltowatch demo

# Most of the suite's wall time is waiting (local servers, subprocess crawls), not CPU: four
# workers (pytest-xdist) keep two cores busy.
PYTEST_WORKERS ?= 4

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# make itself exits 2 whenever aaltowatch fails (3 unhealthy, 4 locked, ...): this says which
# code it was. Cron and scripts that read the exit code call the binary (docs/operations.md).
run: $(STAMP)
	@echo "$(BIN)/aaltowatch run --once"
	@$(BIN)/aaltowatch run --once || { code=$$?; echo "make run: aaltowatch exited $$code (aaltowatch --help lists the codes); make exits 2 for any failure, so cron calls $(BIN)/aaltowatch run --once itself" >&2; exit $$code; }

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench
	$(MAKE) bench-freshness

# The living-site freshness bench as bench/RESULTS.md reports it (~50 min one after the other on
# 2 busy cores; the two ran side by side there, ~30 min):
# 20,000 pages for one simulated day, then 2,000 pages (budget and rare events scaled) for 14.
# The full 20,000 pages x 14 days is `$(BIN)/python -m bench.freshness` (hours, see RESULTS.md).
bench-freshness: $(BENCH_STAMP)
	$(BIN)/python -m bench.freshness --days 1 --jobs 3 --write --key freshness_full_size
	FRESHNESS_WORK=bench/work/freshness-scaled $(BIN)/python -m bench.freshness --pages 2000 \
	  --days 14 --rare 10 --budget 130 --policy round_robin,adaptive --jobs 2 --no-extras \
	  --write --key freshness_scaled

# A run's fixed work and the database size after 1 week, 3 months, 1 year and 3 years of
# operation (bench/RESULTS.md "Archive age"), at a tenth of the pages (~5 min); the full
# 20,000 pages is `$(BIN)/python -m bench.archive_age --write` (about an hour to generate).
bench-archive-age: $(BENCH_STAMP)
	$(BIN)/python -m bench.archive_age --scale 0.1 --write

golden: $(STAMP)
	$(BIN)/python -m tests.regen_golden

schema-doc: $(STAMP)
	$(BIN)/python -m storage.schema_doc --update README.md

browse: $(STAMP)
	$(BIN)/aaltowatch browse

clean:
	rm -rf $(VENV) build *.egg-info data
