# Two commands matter: `make run` (the whole pipeline on the local stack) and `make test`.
# Everything else is a step of those, or a tool for people operating the stack.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-tools test-sdks bench-tools up down status env lint format migrate clean-stack

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=lenient
	touch $@

SIMULATE ?=
SIMULATE_RATE ?= 5

SIMULATOR := $(if $(filter 1,$(SIMULATE)),$(PY) -m app.simulation --wait 60 --duration 0 --rate $(SIMULATE_RATE) --batch 5,true)

## run: the local stack, the catalogue, the Spark stream (in the background) and the service in
##      the foreground; Ctrl-C stops them. SIMULATE=1 also posts simulated traffic,
##      SIMULATE_RATE events/s (default 5)
run: up
	$(PY) -m app.jobs tmdb-sync
	@logs="$$($(PY) -m devstack status | sed -n 's/^state: //p')/logs"; \
	setting() { $(PY) -m app.config | sed -n "s/^$$1=//p"; }; \
	echo "public API on http://$$(setting API_HOST):$$(setting API_PORT)  (/events, /api/*, /tracker.js, /docs)"; \
	echo "operators on http://$$(setting OPS_HOST):$$(setting OPS_PORT)  (the pipeline page; /demo, /status, /metrics)"; \
	echo "a user's token for /api/me/stats: python -m app.jobs user-token USER_ID"; \
	echo "Spark stream log: $$logs/spark.log | python -m app.jobs status | make down stops the stack"; \
	$(PY) -m app.jobs spark > "$$logs/spark.log" 2>&1 & spark=$$!; \
	$(SIMULATOR) & simulator=$$!; \
	trap 'kill -TERM $$spark $$simulator 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(PY) -m app

## test: the local stack, ruff and the whole test suite against the real services
test: up test-tools test-sdks
	$(PY) -m ruff check .
	$(PY) -m pytest

## test-tools: what the tests use besides the stack: nftables, for network partitions; Chromium
##             and ChromeDriver, for the browser tracker; promtool (Debian's prometheus), for
##             the alerting rules' unit tests; wrk, for the paced load's tests
test-tools:
	@command -v nft >/dev/null || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends nftables; }
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends chromium chromium-driver; }
	@command -v promtool >/dev/null || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends prometheus; }
	@$(MAKE) --no-print-directory bench-tools

SDK := .sdk
NODE_SDK := tests/sdk/node
SDK_STAMPS := $(SDK)/python-2.3/.installed $(SDK)/python-2.4/.installed \
	$(NODE_SDK)/node_modules/.installed

## test-sdks: Segment's own SDKs, which the Segment protocol's tests drive against the service:
##            segment-analytics-python 2.3 and 2.4, each in a venv of its own under .sdk/, and
##            analytics-node from tests/sdk/node's lock file; each reinstalled when its pin moves
test-sdks: $(SDK_STAMPS)

$(SDK)/python-%/.installed: tests/sdk/python-%.txt
	test -x $(SDK)/python-$*/bin/python || $(PYTHON) -m venv $(SDK)/python-$*
	$(SDK)/python-$*/bin/python -m pip install -q -r $<
	touch $@

$(NODE_SDK)/node_modules/.installed: $(NODE_SDK)/package-lock.json
	npm ci --prefix $(NODE_SDK) --no-audit --no-fund
	touch $@

## bench-tools: wrk (Debian's), the load generator the HTTP benches drive the service with
bench-tools:
	@command -v wrk >/dev/null || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends wrk; }

## up: start the local services not yet running, wait for them, migrate, create topics
up: $(STAMP)
	$(PY) -m devstack up
	$(PY) -m app.ops.prestart

## down: stop the local services this stack started
down: $(STAMP)
	$(PY) -m devstack down

status: $(STAMP)
	$(PY) -m devstack status

## env: the effective settings as KEY=value lines, secrets masked
env: $(STAMP)
	@$(PY) -m app.config

migrate: $(STAMP)
	$(PY) -m alembic upgrade head

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## clean-stack: stop the stack and delete its data (downloads in the cache stay)
clean-stack: down
	rm -rf "$$($(PY) -c 'from devstack.paths import state_dir; print(state_dir())')"
