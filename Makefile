# Quick start targets. TORCH picks the torch requirement installed before everything else:
#   make test                      # CPU wheel torch==2.13.0 (the default)
#   make test TORCH="torch==2.14.1" or TORCH="torch --index-url https://download.pytorch.org/whl/cu124"
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
# make test runs TEST_WORKERS pytest-xdist workers of one torch thread each, every test file whole on one worker
# (its module fixtures computed once); `$(PY) -m pytest` runs the suite in one process
TEST_WORKERS ?= 2

.PHONY: setup test demo clean

$(VENV)/.installed: setup.cfg pyproject.toml
	@echo "Creating $(VENV) and installing $(TORCH), then monai_pns with its test extras (a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@
	@echo "Installed. Activate with 'source $(VENV)/bin/activate', or call $(PY) directly"

setup: $(VENV)/.installed

test: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

BUNDLE := bundles/pns_net/configs
DEMO_OUT ?= runs/demo

# The main job: two-phase training, then evaluation, through the MONAI bundle on the synthetic set.
demo: setup
	$(PY) -m monai.bundle run training --config_file $(BUNDLE)/train.json --output_dir $(DEMO_OUT)
	$(PY) -m monai.bundle run evaluating --config_file "['$(BUNDLE)/train.json','$(BUNDLE)/evaluate.json']" \
		--output_dir $(DEMO_OUT)
	@echo "Reports: $(DEMO_OUT)/evaluation   MLflow store: $(DEMO_OUT)/mlruns.db"
	@$(PY) -c "import json; s = json.load(open('$(DEMO_OUT)/settings.json')); \
		print('Mixed precision:', ('bf16 autocast' if s['device'] == 'cpu' else 'fp16 amp') if s['amp'] else 'off (float32)')"
	@echo "Review the runs: $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$$(realpath $(DEMO_OUT))/mlruns.db"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
