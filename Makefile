# uvs — the two entry points of the README, plus the benchmarks.
.PHONY: setup demo replay-demo test unit-test live-test bench live-bench build

setup:
	scripts/setup.sh

build: setup
	swift build -c release --product uvsd
	swift build -c release --product uvsadm

# The live lab: namespaces, uvsd run, curl clients, listings (root).
demo: build
	UVS_BUILD=release python3 scripts/demo.py

# The bundled capture through `uvsd replay` (no root needed).
replay-demo: build
	.build/release/uvsd demo

test: unit-test live-test

unit-test: setup
	swift build --build-tests
	swift test --skip-build

# uvsd run / uvsadm in network namespaces (root).
live-test: setup
	swift build --product uvsd
	swift build --product uvsadm
	UVS_BUILD=debug python3 -m unittest -v Tests/live/test_live.py Tests/live/test_checks.py Tests/live/test_config_truth.py

bench: setup
	swift package --disable-sandbox benchmark

# uvsd beside ../shared/limit's C forwarder (root, ~1 minute per run).
live-bench: build
	Benchmarks/live/run.sh
