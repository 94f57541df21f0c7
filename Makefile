# kubesftp: `make run` starts the server on the embedded default, `make test` installs what it
# needs and runs every test. Every install step lives here or in the scripts it calls.
SHELL := /bin/bash
NODE_STAMP := node_modules/.kubesftp-install-stamp
DATA_DIR ?= ./data

.PHONY: all deps build run test lint typecheck unit system-deps testbed bench fuzz clean

all: build

$(NODE_STAMP): package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund
	touch $@

deps: $(NODE_STAMP)

build: deps
	npx tsc -p tsconfig.json

run: build
	mkdir -p $(DATA_DIR)
	node dist/server/src/cli/main.js serve --config-dir $(DATA_DIR) --log-file-path ""

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

lint: deps
	npx eslint .
	npx prettier --check .

system-deps:
	bash test/setup/install-system-deps.sh

testbed:
	bash test/env/setup.sh

unit: build
	node --test --test-concurrency=2 dist/server

test: system-deps deps build lint testbed
	node --test --test-concurrency=2 dist/server dist/test

fuzz: build
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} node --test dist/test/fuzz

bench: system-deps build
	node dist/test/load/bench.js

clean:
	rm -rf dist
