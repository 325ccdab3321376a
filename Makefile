# One way to run each thing; CI calls `make test` through .ci/run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := samples/direct_task_demo
CELERY_DEMO := samples/celery_migration_demo
TRIGGERS_DEMO := samples/triggers_demo

.PHONY: setup demo test unit lint bench bench-workflow realworld clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	cd $(DEMO) && PYNENC__DEV_MODE_FORCE_SYNC_TASKS=True ../../$(BIN)/python sample_sync.py
	cd $(DEMO) && ../../$(BIN)/python sample_distributed.py
	cd $(DEMO) && ../../$(BIN)/python sample_parallel.py
	cd $(CELERY_DEMO) && ../../$(BIN)/python main.py
	cd $(CELERY_DEMO) && for step in step*_*.py; do ../../$(BIN)/python $$step || exit 1; done
	cd $(TRIGGERS_DEMO) && ../../$(BIN)/python main.py

# Test processes (pytest-xdist): most tests wait on servers, runner processes and timers,
# so more workers than cores pays off; each work unit (a file, a sub-package, an xdist_group)
# runs whole on one worker (tests/parallel.py). Bytecode is written (whatever
# PYTHONDONTWRITEBYTECODE says): every runner process the tests start imports from it.
TEST_WORKERS ?= 4

test: setup lint
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

unit: setup
	$(BIN)/python -m pytest -q tests/unit

lint: setup
	$(BIN)/ruff check pynenc pynenc_celery_compat tests samples bench migration_guide/generate_samples.py
	$(BIN)/ruff format --check pynenc pynenc_celery_compat tests samples bench migration_guide/generate_samples.py
	$(BIN)/mypy --strict pynenc pynenc_celery_compat migration_guide/generate_samples.py

bench: setup
	$(BIN)/python -m bench

# a workflow step (wf.execute_task, value steps, replay, execute_tasks) against plain calls, on Redis
bench-workflow: setup
	$(BIN)/python -m bench.workflow_step

# audit + migrate on real Celery codebases from PyPI, their own tests before and after
realworld: setup
	$(BIN)/python -m bench.realworld --report bench/realworld/REPORT.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# migration_guide/samples.md: the sample modules, original and migrated, made by the migrate tool
.PHONY: guide
guide: setup
	$(BIN)/python migration_guide/generate_samples.py
