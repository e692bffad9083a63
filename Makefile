# Two entry points for a fresh machine: `make demo` and `make test`.
# Lava (installed by a later back-end) pins Python 3.10, so the venv is made with python3.10.
PY310 := $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
           $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-slow install clean

$(VENV)/.installed: setup.cfg pyproject.toml
	@test -n "$(PY310)" || { echo "python3.10 not found: install it (e.g. pyenv install 3.10)"; exit 2; }
	test -x $(PY) || $(PY310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,lava]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m emulator run workloads/mnist_snn.yaml --chip loihi2 --out runs/demo

test: $(VENV)/.installed
	$(PY) -m pytest -q -n auto --dist worksteal

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs build *.egg-info
