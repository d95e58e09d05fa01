# The few commands a person types. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-import bench-sync bench-fleet bench-contents bench-helpdesk venv clean

# Create/refresh the virtualenv when pyproject files change.
$(STAMP): pyproject.toml nas/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ./nas -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make run: set up, migrate, load the demo territory if empty, serve on http://127.0.0.1:8000
run: $(STAMP)
	$(VENV)/bin/preau migrate --noinput -v 0
	$(VENV)/bin/preau demo --if-empty
	@echo ""
	@echo "Préau : http://127.0.0.1:8000/  (Ctrl-C pour arrêter)"
	$(VENV)/bin/preau runserver 127.0.0.1:8000

## make test: set up and run the whole suite (server and NAS engine)
test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && { echo "pytest: no tests collected"; rc=0; }; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: bench-import bench-sync

bench-import: $(STAMP)
	$(PY) bench/import_national.py

bench-sync: $(STAMP)
	$(PY) bench/sync.py $(if $(QUICK),--quick,)

## make bench-fleet: 1M assets, 300k classes on SQLite (and PostgreSQL when DATABASE_URL is set); QUICK=1: 20k
bench-fleet: $(STAMP)
	$(PY) bench/fleet.py $(if $(QUICK),--quick,)

## make bench-contents: 50,000 NAS check-ins on gunicorn + PostgreSQL, freshness dashboard 50k nodes x 20 collections,
## a 30-school tour bundle vs per-school deltas; QUICK=1: small sizes (runs in the suite)
bench-contents: $(STAMP)
	$(PY) bench/contents.py $(if $(QUICK),--quick,)

## make bench-helpdesk: 500,000 help requests and 2,000,000 comments: queues, request page, figures; QUICK=1: small
bench-helpdesk: $(STAMP)
	$(PY) bench/helpdesk.py $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .venv-nas
