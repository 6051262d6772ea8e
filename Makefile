# The two commands of the README: `make run` and `make test`. Both start from a
# fresh Debian machine: they install what is missing and skip what is done.
PY := .venv/bin/python

.PHONY: run test reset stop lint bench-validate

run:
	@bash scripts/provision
	@$(PY) -m config.launcher run

test:
	@bash scripts/provision --test
	@$(PY) -m config.embedded start
	@$(PY) -m pytest $(PYTEST_ARGS)

# Stop the embedded PostgreSQL and Redis (make run stops them on Ctrl-C too).
stop:
	@$(PY) -m config.embedded stop

# Delete all embedded data (database, broker, stored batches); the next `make run` reloads the demo.
reset:
	@$(PY) -m config.embedded reset

lint:
	@.venv/bin/ruff check .
