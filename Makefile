# Shortcuts; the README's two commands are scripts/demo.sh and scripts/test.sh, which need no make.
.PHONY: demo test lint bench clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

lint:
	swift format lint --strict --recursive Sources Tests Package.swift

# make bench BENCH_ARGS="--quick" (or "--only intake,restart"); see docs/BENCHMARKS.md
bench:
	scripts/setup.sh
	swift build -c release
	bench/run --bin "$$(swift build -c release --show-bin-path)" $(BENCH_ARGS)

clean:
	rm -rf .build bosun-demo
