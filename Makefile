# kubesftp: `make run` starts the server on the embedded default, `make test` installs what it
# needs and runs every test. Every install step lives here or in the scripts it calls.
SHELL := /bin/bash
NODE_STAMP := node_modules/.kubesftp-install-stamp
DATA_DIR ?= ./data

.PHONY: all deps build run test test-large lint typecheck unit system-deps testbed image bench bench-providers bench-operator fuzz clean gen manifests

all: build

$(NODE_STAMP): package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund
	touch $@

deps: $(NODE_STAMP)

# A clean dist/ so a removed source never leaves a stale test behind.
build: deps
	rm -rf dist
	npx tsc -p tsconfig.json
	node scripts/write-build-info.js

run: build
	mkdir -p $(DATA_DIR)
	node --max-semi-space-size=1 --initial-old-space-size=32 dist/server/src/cli/main.js serve --config-dir $(DATA_DIR) --log-file-path ""

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

lint: deps
	npx eslint .
	npx prettier --check .

system-deps:
	bash test/setup/install-system-deps.sh
	bash test/setup/install-databases.sh

testbed:
	bash test/env/setup.sh

# The container image, offline (no daemon, no registry); the Containerfile says the same.
image: build testbed
	bash scripts/build-image.sh

# Only *.test.js files: `node --test DIR` would also run every module under a test/ folder.
TEST_FILES = find $(1) -name '*.test.js' | sort

unit: build
	node --test --test-concurrency=2 $$($(call TEST_FILES,dist/server dist/operator/src))

# Drift of generated files (docs/config.md, docs/openapi.json, crds/, *.generated.ts) is checked
# by their tests.
test: system-deps deps build lint testbed
	node --test --test-concurrency=2 $$($(call TEST_FILES,dist/server dist/test dist/operator))

# The tests `make test` reports skipped for their size (a file over 5 GiB through an S3 home):
# minutes and about 20 GiB of disk.
test-large: system-deps build testbed
	KUBESFTP_TEST_LARGE=1 node --test $$($(call TEST_FILES,dist/test/integration) | grep -- '-large\.test\.js$$')

fuzz: build
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} node --test $$($(call TEST_FILES,dist/test/fuzz))

# kubesftp beside OpenSSH's sshd, what each data provider costs a login and an upload, then
# the operator at scale on the test bed's API server.
bench: system-deps build testbed
	node dist/test/load/bench.js
	node dist/test/load/provider-bench.js
	node dist/test/load/operator-bench.js

bench-providers: system-deps build
	node dist/test/load/provider-bench.js

bench-operator: system-deps build testbed
	node dist/test/load/operator-bench.js

# Regenerates the precompiled validators (sources: built again at once), then docs/config.md,
# docs/openapi.json and the CRDs from their sources.
gen: build
	node dist/server/src/config/write-precompiled.js
	$(MAKE) build
	node dist/server/src/config/gen-docs.js
	node dist/server/src/httpd/write-openapi.js
	node dist/operator/src/crd/write-crds.js

# Renders manifests/ from the chart with the test bed's helm.
manifests: build testbed
	node dist/test/operator/helm.js

clean:
	rm -rf dist
