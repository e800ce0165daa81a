# Shortcuts; the README's two commands are scripts/demo.sh and scripts/test.sh, which need no make.
.PHONY: demo test lint bench clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

lint:
	swift format lint --strict --recursive Sources Tests Package.swift

bench:
	scripts/setup.sh
	swift build -c release
	python3 bench/restart_latency.py --bin "$$(swift build -c release --show-bin-path)"

clean:
	rm -rf .build bosun-demo
