# Summit Portal: the two commands a newcomer needs are `make run` and `make test`.
# Both install whatever is missing first; neither needs anything running beforehand.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_UPDATED := $(VENV)/.apt-updated

PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
REDIS_PORT ?= 6379
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-embedded test-services bench install services chromium node-tools vendor-js clean help

help:
	@echo "make run    install, migrate, seed the demo and start portal + worker + beat (embedded default)"
	@echo "make test   install, bring up PostgreSQL, Redis and Chromium, run the suite on both backends"
	@echo "make bench  run the benchmarks and print ratios against same-run baselines"

# --- installation -------------------------------------------------------------

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 (apt-get install python3 python3-venv)"; exit 1; }
	@if [ ! -x $(BIN)/python ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    echo "python3-venv is missing; installing it"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && \
	    rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }; \
	fi
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

chromium: $(STAMP)
	@if [ ! -x /usr/bin/chromium ]; then echo "Installing Chromium for the browser tests"; fi
	@[ -x /usr/bin/chromium ] || { [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# axe-core for the accessibility checks in Chromium (package.json); Debian's npm if there is none.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Installing npm for the browser test tools"; \
	  [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	npm ci --no-audit --no-fund --silent
	@touch $(NODE_STAMP)

node-tools: $(NODE_STAMP)

# Browser libraries the portal serves itself (package.json "dependencies"; no CDN): copied from
# node_modules into portal/static/vendor, where the static files' digests and caching apply to them.
VENDOR_DIR := portal/static/vendor
VENDOR_JS := $(VENDOR_DIR)/zxing-library.min.js
$(VENDOR_JS): $(NODE_STAMP)
	@mkdir -p $(VENDOR_DIR)
	@cp node_modules/@zxing/library/umd/index.min.js $@
	@cp node_modules/@zxing/library/LICENSE $(VENDOR_DIR)/zxing-library.LICENSE.txt

vendor-js: $(VENDOR_JS)

# khal, the calendar program the registration tests import the emailed .ics files into.
.PHONY: calendar-tools
calendar-tools:
	@command -v khal >/dev/null || { echo "Installing khal for the calendar tests"; \
	  [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq khal >/dev/null; }
test test-embedded test-services: calendar-tools

# nginx, the reverse proxy of the HTTPS lane (deploy/nginx), and openssl for its test certificate.
.PHONY: proxy-tools
proxy-tools:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "Installing nginx for the HTTPS tests"; \
	  [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light openssl >/dev/null; }
test test-embedded test-services: proxy-tools

# Postfix and Dovecot for the bounce intake tests, each run by the tests as a private instance from a
# temporary folder. Postfix is preseeded "No configuration": no /etc/postfix/main.cf, nothing started.
.PHONY: bounce-tools
bounce-tools:
	@[ -x /usr/sbin/postfix ] && [ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/imap ] || { \
	  echo "Installing Postfix and Dovecot for the bounce intake tests"; \
	  [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix dovecot-imapd >/dev/null; }
test test-embedded test-services: bounce-tools

# Reuse PostgreSQL and Redis when they answer; otherwise install (Debian packages) and start them.
services: $(STAMP)
	@if ! pg_isready -q -h $(PG_HOST) -p $(PG_PORT) 2>/dev/null; then \
	  if ! command -v pg_ctlcluster >/dev/null; then \
	    echo "Installing PostgreSQL"; \
	    [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  fi; \
	  echo "Starting PostgreSQL"; \
	  version=$$(ls /etc/postgresql | sort -V | tail -n 1); \
	  pg_ctlcluster --skip-systemctl-redirect $$version main start || true; \
	  for i in $$(seq 1 30); do pg_isready -q -h $(PG_HOST) -p $(PG_PORT) && break; sleep 1; done; \
	fi
	@pg_isready -q -h $(PG_HOST) -p $(PG_PORT) || { echo "PostgreSQL did not come up on $(PG_HOST):$(PG_PORT)"; exit 1; }
	@if ! psql -h $(PG_HOST) -p $(PG_PORT) -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 \
	    && ! psql -h $(PG_HOST) -p $(PG_PORT) -U portal_test -d postgres -Atqc 'select 1' >/dev/null 2>&1; then \
	  echo "Creating the portal_test PostgreSQL role for the test suite"; \
	  runuser -u postgres -- psql -q -c "CREATE ROLE portal_test LOGIN SUPERUSER PASSWORD 'portal_test'" ; \
	fi
	@if ! redis-cli -h 127.0.0.1 -p $(REDIS_PORT) ping >/dev/null 2>&1; then \
	  if ! command -v redis-server >/dev/null; then \
	    echo "Installing Redis"; \
	    [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  fi; \
	  echo "Starting Redis"; \
	  mkdir -p /var/lib/redis /var/log/redis; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port $(REDIS_PORT) --save "" --appendonly no \
	    --dir /var/lib/redis --logfile /var/log/redis/portal-test.log; \
	  for i in $$(seq 1 30); do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.5; done; \
	fi
	@redis-cli -h 127.0.0.1 -p $(REDIS_PORT) ping >/dev/null || { echo "Redis did not come up on port $(REDIS_PORT)"; exit 1; }

# The PostgreSQL superuser the tests create databases with: postgres over trust auth when
# the server allows it (CI machines), else the password role created above.
PG_ADMIN_URL = $(shell psql -h $(PG_HOST) -p $(PG_PORT) -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 \
  && echo postgresql://postgres@$(PG_HOST):$(PG_PORT)/postgres \
  || echo postgresql://portal_test:portal_test@$(PG_HOST):$(PG_PORT)/postgres)

# --- the two commands ---------------------------------------------------------

# PORTAL_DEVELOPMENT=1: the development key, the demo seed and /dev/mail, on 127.0.0.1 only.
run: $(STAMP) vendor-js
	PORTAL_DEVELOPMENT=1 $(BIN)/flask --app portal db upgrade
	PORTAL_DEVELOPMENT=1 $(BIN)/flask --app portal seed-demo
	PORTAL_DEVELOPMENT=1 $(BIN)/flask --app portal dev

# SpamAssassin and Java for the email checks (spam score, Nu HTML Checker); listed before node-tools,
# so that vnu-jar's install script finds Java and fetches no runtime of its own.
.PHONY: mail-tools
mail-tools: $(STAMP)
	@command -v spamassassin >/dev/null && command -v java >/dev/null || { \
	  echo "Installing SpamAssassin and Java for the email checks"; \
	  [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin \
	    $$(command -v java >/dev/null || echo default-jre-headless) >/dev/null; }

test: $(STAMP) services chromium mail-tools node-tools vendor-js
	@status=0; \
	echo "=== Test pass 1/2: embedded default (SQLite, filesystem broker) ==="; \
	PORTAL_TEST_BACKEND=embedded $(BIN)/pytest || status=1; \
	echo "=== Test pass 2/2: PostgreSQL + Redis ==="; \
	PORTAL_TEST_BACKEND=services TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) $(BIN)/pytest || status=1; \
	exit $$status

test-embedded: $(STAMP) chromium mail-tools node-tools vendor-js
	PORTAL_TEST_BACKEND=embedded $(BIN)/pytest

test-services: $(STAMP) services chromium mail-tools node-tools vendor-js
	PORTAL_TEST_BACKEND=services TEST_PG_ADMIN_URL=$(PG_ADMIN_URL) $(BIN)/pytest

bench: $(STAMP) services
	@command -v wrk >/dev/null || { echo "Installing wrk (load generator for the registration benchmark)"; [ -f $(APT_UPDATED) ] || { apt-get update -qq && touch $(APT_UPDATED); }; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	BENCH_PG_ADMIN_URL=$(PG_ADMIN_URL) $(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules $(VENDOR_DIR)
