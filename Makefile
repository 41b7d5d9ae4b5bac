# make report: install everything, then build the write-up (build/report.pdf, build/report.html).
# make test:   install everything, then run the test suite (what CI runs).
PY ?= python3
# torch when none is installed (any torch >= 2.2 works; an installed one is kept), from whatever
# index pip is configured with: the CPU-only wheel where that index provides one (e.g. the PyTorch
# CPU index, PIP_INDEX_URL=https://download.pytorch.org/whl/cpu); PyPI's Linux wheel bundles CUDA.
TORCH ?= torch==2.13.0
APT_PACKAGES = texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk \
               chromium poppler-utils

.PHONY: deps sysdeps report test bench lint

deps:
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -r requirements.txt

# TeX Live (PDF), Chromium (HTML tests) and poppler (pdftotext) from Debian, where apt-get works.
sysdeps:
	@if command -v latexmk >/dev/null && command -v chromium >/dev/null && command -v pdftotext >/dev/null; then \
	  echo "system packages present"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	else \
	  echo "cannot install $(APT_PACKAGES): install them by hand (tests needing them are skipped)"; \
	fi

report: deps sysdeps
	$(PY) build.py

# The default suite (fast), then the slow tests: the end-to-end quick build and the largest
# concrete Jacobians.
test: deps sysdeps
	$(PY) -m pytest -q
	$(PY) -m pytest -q -m slow

bench: deps
	$(PY) benchmarks/bench_derivations.py
	$(PY) benchmarks/bench_norms.py
	$(PY) benchmarks/bench_mnist.py
	$(PY) benchmarks/bench_cbow.py
	$(PY) benchmarks/bench_build.py

lint:
	$(PY) -m ruff check .
