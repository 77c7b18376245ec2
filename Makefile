# Two commands for a newcomer: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# libmagic for file typing, libarchive for 7z/rar, python3-venv to build .venv; cryptsetup-bin derives
# LUKS2 volume keys. The rest build the disk-image fixtures of the tests (file systems without mounting,
# partition tables, E01, VMDK/QCOW2/VHDX, ISO9660) and give the sleuthkit's tools for cross-checks.
# chromium: the review app's browser tests drive Debian's Chromium through Playwright, which must never
# download a browser of its own. No extra fonts: the tests check the DOM, not pixels.
SYSTEM_PACKAGES := libmagic1 "libarchive13t64|libarchive13" python3-venv cryptsetup-bin zlib1g-dev \
	e2fsprogs dosfstools mtools ntfs-3g fdisk ewf-tools qemu-utils exfatprogs xfsprogs xorriso sleuthkit \
	chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
BENCH_PACKAGES := hashdeep
DEMO_DIR := demo-output

.PHONY: all setup test lint demo bench-deps bench clean

all: test

# Makefile itself: a changed package list above re-runs setup.
$(STAMP): Makefile pyproject.toml setup.py src/himaya/matching/_pdqscan.c scripts/ensure-system-packages.sh \
		scripts/build-pyewf-zlib.sh
	@bash scripts/ensure-system-packages.sh $(SYSTEM_PACKAGES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@bash scripts/build-pyewf-zlib.sh $(BIN)/python
	@touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -n 2 --dist loadfile

demo: $(STAMP)
	@rm -rf $(DEMO_DIR)/home  # a fresh store each time, so the demo always shows a full scan
	HIMAYA_HOME=$(DEMO_DIR)/home HIMAYA_KEY_FILE=$(DEMO_DIR)/keys/blob.key \
		$(BIN)/himaya demo --out $(DEMO_DIR)

# Tools only the benchmarks use. HMA's hasher loop (Pillow full decode + pdqhash + hashlib) is written out
# in bench/bench_images.py; python-threatexchange is HMA's PDQ index, which bench/bench_pdq_index.py times.
# plaso (log2timeline), which bench/bench_disk.py times, gets a venv of its own in the git-ignored bench/out/.
bench-deps: $(STAMP)
	@bash scripts/ensure-system-packages.sh $(BENCH_PACKAGES)
	$(BIN)/pip install -q threatexchange==1.2.17
	@test -x bench/out/.venv-plaso/bin/python || $(PYTHON) -m venv bench/out/.venv-plaso
	bench/out/.venv-plaso/bin/pip install -q plaso==20260720
	@# plaso again, with the pyewf that Himaya's setup builds (zlib inflate): the like-for-like comparison.
	@test -x bench/out/.venv-plaso-zlib/bin/python || $(PYTHON) -m venv bench/out/.venv-plaso-zlib
	bench/out/.venv-plaso-zlib/bin/pip install -q plaso==20260720
	@bash scripts/build-pyewf-zlib.sh bench/out/.venv-plaso-zlib/bin/python

bench: bench-deps
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_images.py
	$(BIN)/python bench/bench_digests.py
	$(BIN)/python bench/bench_scaling.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache .pytest_cache .hypothesis
