# uvs — the two entry points of the README, plus the benchmarks.
.PHONY: setup demo test bench build

setup:
	scripts/setup.sh

build: setup
	swift build -c release --product uvsd

demo: build
	.build/release/uvsd demo

test: setup
	swift build --build-tests
	swift test --skip-build

bench: setup
	swift package --disable-sandbox benchmark
