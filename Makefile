# The two commands of the README: `make run` and `make test`. Both work on a machine
# with only Python 3.11: they create .venv, install, and start embedded services
# (PostgreSQL, Redis, an SNS/SQS emulator) where DATABASE_URL / REDIS_URL / AWS are unset.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# A Fernet key for tests and benchmarks only: base64 of "tests-only-not-a-secret-key-0000",
# public like the secret key above; it protects nothing (docs/decisions/0010).
TEST_ONLY_ENCRYPTION_KEY := dGVzdHMtb25seS1ub3QtYS1zZWNyZXQta2V5LTAwMDA=

.PHONY: run test deploy-check fuzz browser-check bench lint format clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) scripts/run.py

# Tests use Redis db 9 (never db 0) and pytest-django's own test database. The tests marked
# deploy (the image test, the checkov scan), fuzz and browser are left to deploy-check, fuzz
# and browser-check: they install tools.
# The tests, the fuzz run and the bench speak plain HTTP to an engine with DJANGO_DEBUG off,
# which redirects to HTTPS by default (docs/decisions/0012): they run the plain-HTTP set-up.
# TEST_REDIS_DB lets two checkouts run their tests side by side on one Redis.
TEST_REDIS_DB ?= 9
PLAIN_HTTP_TARGETS := test deploy-check fuzz browser-check bench
$(PLAIN_HTTP_TARGETS): export DJANGO_SECURE_SSL_REDIRECT ?= false
$(PLAIN_HTTP_TARGETS): export DJANGO_HSTS_SECONDS ?= 0

test: export DJANGO_SECRET_KEY ?= tests-only-not-a-secret
test: export NOTIFIER_ENCRYPTION_KEYS ?= $(TEST_ONLY_ENCRYPTION_KEY)
test: $(STAMP)
	$(PY) scripts/services.py --redis-db $(TEST_REDIS_DB) -- $(PY) -m pytest -m "not deploy and not fuzz and not browser" $(PYTEST_ARGS)

# The deployment, offline: hadolint on the Dockerfile; the Helm chart linted, rendered with
# each helm/notifier/ci/*-values.yaml, validated for Kubernetes 1.30, held to its rules and
# scanned by checkov (in .run/checkov-venv); then the image test: podman (apt-installed if
# missing, root needed) builds the Dockerfile and runs the chart's workloads as containers
# against PostgreSQL over TCP (DATABASE_URL).
deploy-check: export DJANGO_SECRET_KEY ?= tests-only-not-a-secret
deploy-check: export NOTIFIER_ENCRYPTION_KEYS ?= $(TEST_ONLY_ENCRYPTION_KEY)
deploy-check: $(STAMP)
	$(VENV)/bin/hadolint Dockerfile
	$(PY) scripts/services.py --redis-db 9 -- $(PY) -m pytest tests/deploy $(PYTEST_ARGS)

# The API fuzzed from its OpenAPI schema: schemathesis (in .run/schemathesis-venv, installed
# on first use) against a live server, as a staff and as an ordinary user, fixed seed;
# 0 server errors and 0 schema violations, the counts printed.
FUZZ_REDIS_DB ?= 9
fuzz: export DJANGO_SECRET_KEY ?= tests-only-not-a-secret
fuzz: export NOTIFIER_ENCRYPTION_KEYS ?= $(TEST_ONLY_ENCRYPTION_KEY)
fuzz: $(STAMP)
	$(PY) scripts/services.py --redis-db $(FUZZ_REDIS_DB) -- $(PY) -m pytest tests/fuzz -s $(PYTEST_ARGS)

# The console tested as a person uses it: Playwright drives Debian's Chromium (apt-installed
# on first use, root needed; Playwright's own browser download cannot work here) against a
# live server on the test database. SCREENSHOTS=1 also saves the README's pictures under
# docs/img/. BROWSER_TESTS picks a file or test instead of the whole folder.
BROWSER_REDIS_DB ?= 8
BROWSER_TESTS ?= tests/browser
browser-check: export DJANGO_SECRET_KEY ?= tests-only-not-a-secret
browser-check: export NOTIFIER_ENCRYPTION_KEYS ?= $(TEST_ONLY_ENCRYPTION_KEY)
browser-check: $(STAMP)
	$(PY) scripts/services.py --redis-db $(BROWSER_REDIS_DB) -- $(PY) -m pytest $(BROWSER_TESTS) -m browser $(PYTEST_ARGS)

# Benchmarks (bench/run.py): BENCH_SIZE=tiny (CI, seconds), quick (minutes) or full.
BENCH_SIZE ?= quick
bench: export DJANGO_SECRET_KEY ?= bench-only-not-a-secret
bench: export NOTIFIER_ENCRYPTION_KEYS ?= $(TEST_ONLY_ENCRYPTION_KEY)
bench: $(STAMP)
	$(PY) scripts/services.py -- $(PY) bench/run.py --size $(BENCH_SIZE) $(BENCH_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf .run .pytest_cache .ruff_cache staticfiles
