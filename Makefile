# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint typecheck unit bench system-deps clean check-firmware check-arm64 docs docs-check

$(VENV)/.runtime: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	@touch $@

# the hub's mosquitto plugin (the bound on subscriptions), built into the venv it runs from
PLUGIN := $(VENV)/lib/camaudit/camaudit_subscribe_acl.so
$(PLUGIN): device/camaudit/hub/broker/plugin/camaudit_subscribe_acl.c scripts/build-broker-plugin.sh | $(VENV)/.runtime
	bash scripts/build-broker-plugin.sh $(VENV)

$(VENV)/.test: pyproject.toml $(VENV)/.runtime $(PLUGIN)
	$(PIP) install -q -e '.[test,bench]'
	$(PY) -c 'import sys; sys.path.insert(0, "."); from bench._common import face_detectors as fd; fd.yunet_onnx_files(); fd.centerface()'
	@touch $@

$(VENV)/.docs: pyproject.toml $(VENV)/.runtime
	$(PIP) install -q -e '.[docs]'
	@touch $@

## make demo: the device on the bundled clip, with the hub and its own mosquitto
## (Debian's mosquitto and haproxy, and gcc and its headers for the hub's plugin, are installed as `make test`
## installs system packages: root or sudo)
demo: $(VENV)/.runtime
	@need=""; { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } || need="mosquitto"; \
	  [ -f /usr/include/mosquitto_broker.h ] || need="$$need mosquitto-dev"; \
	  [ -f /usr/include/mosquitto.h ] || need="$$need libmosquitto-dev"; \
	  [ -f /usr/include/openssl/evp.h ] || need="$$need libssl-dev"; \
	  [ -f /usr/include/stdio.h ] || need="$$need libc6-dev"; \
	  command -v gcc >/dev/null 2>&1 || need="$$need gcc"; \
	  { command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; } || need="$$need haproxy"; \
	  [ -z "$$need" ] || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make demo: the hub needs Eclipse Mosquitto, HAProxy and the plugin's build headers: install with your package manager (Debian: apt-get install$$need)" >&2; exit 1; \
	  elif [ "$$(id -u)" -eq 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends $$need; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -q && sudo apt-get install -y -q --no-install-recommends $$need; \
	  else echo "make demo: the hub needs Debian's$$need: as root run apt-get install$$need" >&2; exit 1; fi; }
	@$(MAKE) --no-print-directory $(PLUGIN)
	@$(VENV)/bin/camaudit demo; status=$$?; \
	  echo; echo "camaudit is installed in $(VENV)/bin, not on your PATH: type $(VENV)/bin/camaudit ..., or"; \
	  echo "put it on PATH for this shell with: . $(VENV)/bin/activate   (then: camaudit --help)"; \
	  exit $$status

## system packages the integration tests use (mosquitto, chromium); needs root or sudo
system-deps:
	@bash scripts/system-deps.sh

lint: $(VENV)/.test
	$(VENV)/bin/ruff check device tests bench models

typecheck: $(VENV)/.test
	$(VENV)/bin/mypy device/camaudit

## make test: installs what the tests need, starts the real services they use, runs them
test: system-deps $(VENV)/.test lint typecheck check-firmware docs-check
	$(VENV)/bin/pytest -q -ra

## make docs: the manual (docs/, mkdocs.yml) as a static site in site/; the config and CLI
## references are generated from the JSON Schema and click's help during the build
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

## the manual builds with no warning: a broken link or anchor, or a page missing from the
## nav, fails `make test` (no --quiet: it hides the warnings --strict counts)
docs-check: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir .cache/docs-check-site

## shellcheck on deploy.sh and every script; systemd-analyze verify on the units
check-firmware: system-deps
	shellcheck deploy.sh scripts/*.sh firmware/pi-gen/stage-camaudit/*.sh firmware/pi-gen/stage-camaudit/*/*.sh
	bash scripts/verify-units.sh

## emulated arm64 (qemu user mode, no binfmt) against x86: boxes and captures; slow, needs root
check-arm64: $(VENV)/.test system-deps
	bash scripts/check-arm64.sh $(PY)

unit: $(VENV)/.test
	$(VENV)/bin/pytest -q tests/core

bench: $(VENV)/.test
	$(PY) bench/pipeline.py
	$(PY) bench/accuracy.py --set ../shared/data/wider_dev

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts demo-data site
