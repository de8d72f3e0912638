# edgeplane: every entry point. Each target provisions first (quiet when nothing is
# missing), then runs tools under the project's Node (scripts/node picks it) by putting
# that node first on PATH, so npm, npx and node_modules/.bin shebangs use it too.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

# Recipe prefix: resolved when the recipe runs, i.e. after provisioning installed node.
RUN = PATH="$$(scripts/node --bin-dir):$(CURDIR)/node_modules/.bin:$$PATH"

.PHONY: provision up test test-faults typecheck lint format bench clean

provision:
	@scripts/provision.sh

up: provision
	@$(RUN) scripts/node launcher/src/main.ts

typecheck: provision
	@$(RUN) tsc --noEmit -p tsconfig.json

lint: provision
	@$(RUN) biome check .

format: provision
	@$(RUN) biome check --write .

test: provision typecheck lint
	@mkdir -p .tmp && rm -f .tmp/vitest.json
	@rc=0; $(RUN) vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || rc=$$?; \
	$(RUN) scripts/node scripts/vitest-summary.ts .tmp/vitest.json || rc=1; \
	exit $$rc

# The fault suite (test/faults): a 3-node NATS cluster, two of every service, a load, and
# restarts/kills under it. Alone on the machine, so not part of `make test`; CI runs both.
test-faults: provision
	@mkdir -p .tmp && rm -f .tmp/vitest-faults.json
	@rc=0; $(RUN) vitest run --config test/faults/vitest.config.ts --reporter=default --reporter=json --outputFile.json=.tmp/vitest-faults.json || rc=$$?; \
	$(RUN) scripts/node scripts/vitest-summary.ts .tmp/vitest-faults.json || rc=1; \
	exit $$rc

bench: provision
	@$(RUN) scripts/node bench/src/run.ts

clean:
	rm -rf .tmp coverage .edgeplane
