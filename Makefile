# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

S3RVER := tests/s3rver/node_modules/.installed

.PHONY: venv demo demo-s3 test lint typecheck bench clean

venv: $(VENV)/.installed

# s3rver, an S3 implementation without additional checksums, for the test suite (Node >= 12).
$(S3RVER): tests/s3rver/package.json tests/s3rver/package-lock.json
	npm ci --prefix tests/s3rver --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

demo: venv
	$(PY) scripts/demo.py

demo-s3: venv
	$(PY) scripts/demo.py --s3

lint: venv
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/hadolint Dockerfile docker/layer.Dockerfile
	$(BIN)/cfn-lint deploy/template.yaml

typecheck: venv
	$(BIN)/mypy src

test: lint typecheck $(S3RVER)
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/csv_upload.py
	$(PY) bench/tmdb_ingest.py

clean:
	rm -rf $(VENV) lake dist build .pytest_cache .mypy_cache .ruff_cache tests/s3rver/node_modules
