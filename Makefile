# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: run test install check-labels evaluate train benchmark clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip -c constraints.txt
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p out
	$(VENV)/bin/entente score examples/sample_article.txt -o out/sample.jsonl
	$(VENV)/bin/entente score examples/sample_article.txt -o out/sample.html --format html
	@echo "JSON Lines: $(CURDIR)/out/sample.jsonl"
	@echo "HTML report: $(CURDIR)/out/sample.html"

test: $(STAMP)
	$(PY) -m pytest -q

check-labels: $(STAMP)
	$(PY) -m training.data --check

train: $(STAMP)
	$(PY) -m training.train --config training/configs/default.toml --output checkpoints/default

evaluate: $(STAMP)
	$(PY) -m training.evaluate --merge --output docs/cv_report.json

benchmark: $(STAMP)
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) out
