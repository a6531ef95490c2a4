# userhub developer entry points. The local stack (DynamoDB Local + moto S3)
# is installed into .local/ and supervised by infra/stack.py.

PYTHON      ?= python3
STACK       := $(PYTHON) infra/stack.py

DDB_PORT    ?= 8000
S3_PORT     ?= 4566
TABLE_NAME  ?= userhub
BUCKET_NAME ?= userhub-exports
PORT        ?= 3000

# cargo-nextest when installed, plain cargo test otherwise (evaluated lazily).
HAVE_NEXTEST = $(shell cargo nextest --version >/dev/null 2>&1 && echo yes)
TEST_CMD = $(if $(HAVE_NEXTEST),cargo nextest run --workspace --no-fail-fast,cargo test --workspace --no-fail-fast)

.PHONY: dev test lint bench bench-quick bench-build bench-export bench-import test-scale install clean-local package fuzz fuzz-quick

# Local API on http://127.0.0.1:$(PORT) against a fresh local stack.
# JWT_SECRET comes from the environment or .local/jwt_secret (generated once).
# Mail goes to moto's SES; every link sent is also logged (debug level, userhub::mail).
dev:
	JWT_SECRET="$${JWT_SECRET:-$$($(STACK) secret)}" \
	TABLE_NAME="$(TABLE_NAME)" BUCKET_NAME="$(BUCKET_NAME)" PORT="$(PORT)" \
	PUBLIC_URL="$${PUBLIC_URL:-http://127.0.0.1:$(PORT)}" \
	RUST_LOG="$${RUST_LOG:-info,userhub::mail=debug}" \
	$(STACK) run --dynamodb-port $(DDB_PORT) --s3-port $(S3_PORT) -- \
		cargo run -p userhub-local-api -- --setup

# Template lint, then every test against its own stack on free ports. The Lambda
# smoke tests run the real function binaries, so those are built first.
test:
	$(STACK) lint
	cargo build --workspace --bins
	$(STACK) run -- $(TEST_CMD)
	$(STACK) run -- $(PYTHON) infra/fuzz.py --budget $(FUZZ_QUICK_SECONDS)

# schemathesis against the local API and openapi.yaml (infra/fuzz.py): as admin, normal
# user, anonymous, and throwaway users for the session-ending operations. fuzz-quick is the
# bounded run make test ends with; fuzz adds the stateful phase (create -> get -> patch ->
# delete through the spec's links) and a longer budget.
FUZZ_QUICK_SECONDS ?= 180
FUZZ_SECONDS ?= 780
fuzz-quick:
	cargo build -p userhub-local-api
	$(STACK) run -- $(PYTHON) infra/fuzz.py --budget $(FUZZ_QUICK_SECONDS)

fuzz:
	cargo build -p userhub-local-api
	$(STACK) run -- $(PYTHON) infra/fuzz.py --budget $(FUZZ_SECONDS) --stateful

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The release binaries the bench runs, and nothing else of the workspace: the five
# functions, the hello-world baseline and the bench itself.
BENCH_BUILD = cargo build --release \
	-p userhub-auth -p userhub-users -p userhub-exports -p userhub-imports -p userhub-jobs \
	-p userhub-tests --bin userhub-auth --bin userhub-users --bin userhub-exports \
	--bin userhub-imports --bin userhub-jobs --bin hello_lambda --bin bench

bench-build:
	$(BENCH_BUILD)

# Every table of docs/BENCHMARKS.md and its charts (docs/bench-*.svg); exits non-zero when
# a budget is missed. bench-quick takes fewer samples (about a minute once built) and
# writes target/bench-quick/BENCHMARKS.md instead.
bench: bench-build
	$(STACK) run -- $${CARGO_TARGET_DIR:-target}/release/bench --strict

bench-quick: bench-build
	$(STACK) run -- $${CARGO_TARGET_DIR:-target}/release/bench --quick --strict

# Export throughput next to a raw parallel Scan, and the export's peak RSS, over a table
# of 100,000 seeded users (BENCH_USERS to change; a million takes about 13 minutes). Extra
# flags in BENCH_EXPORT_FLAGS: --rounds N, --segments N, --no-warmup, and --sweep 1,4,16
# to time a raw Scan's pages with each segment count.
BENCH_USERS ?= 100000
BENCH_EXPORT_FLAGS ?=
bench-export:
	$(STACK) run -- cargo run --release -p userhub-tests --bin bench_export -- --users $(BENCH_USERS) $(BENCH_EXPORT_FLAGS)

# Import throughput (rows with password_hash, rows with plain passwords) next to one core's
# argon2id rate and Store::seed_users' raw write rate, and the peak RSS.
IMPORT_ROWS ?= 20000
IMPORT_PLAIN ?= 2000
# Each phase in a fresh stack: DynamoDB Local's transactions crawl in a phase after another.
bench-import:
	cargo build --release -p userhub-tests --bin bench_import
	for phase in plain hash seed; do \
		$(STACK) run -- $${CARGO_TARGET_DIR:-target}/release/bench_import --phase $$phase \
			--rows $(IMPORT_ROWS) --plain $(IMPORT_PLAIN) || exit 1; \
	done

# 100,000-row imports (password hashes; plain passwords) with short runs that continue
# across invocations, checked exact at the end. Slow; not part of make test.
test-scale:
	$(STACK) run -- cargo nextest run --cargo-profile scale -p userhub-tests --test api --run-ignored only --no-capture -E 'test(/^imports::/)'

install:
	$(STACK) install

# Deployable zips: target/lambda/<function>/bootstrap.zip for every function, built by
# cargo-lambda (zig links against Lambda's older glibc). x86_64 here; the template's
# Architecture parameter selects arm64 for `sam build`, which needs an aarch64 toolchain.
LAMBDA_FUNCTIONS := userhub-auth userhub-users userhub-exports userhub-imports userhub-jobs
package: install
	PATH="$(CURDIR)/.local/venv/bin:$$PATH" cargo lambda build --release --x86-64 \
		--output-format zip $(addprefix --package ,$(LAMBDA_FUNCTIONS))
	@for f in $(LAMBDA_FUNCTIONS); do ls -l target/lambda/$$f/bootstrap.zip; done

clean-local:
	rm -rf .local
