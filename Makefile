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

.PHONY: dev test lint bench bench-quick bench-build bench-export install clean-local

# Local API on http://127.0.0.1:$(PORT) against a fresh local stack.
# JWT_SECRET comes from the environment or .local/jwt_secret (generated once).
dev:
	JWT_SECRET="$${JWT_SECRET:-$$($(STACK) secret)}" \
	TABLE_NAME="$(TABLE_NAME)" BUCKET_NAME="$(BUCKET_NAME)" PORT="$(PORT)" \
	$(STACK) run --dynamodb-port $(DDB_PORT) --s3-port $(S3_PORT) -- \
		cargo run -p userhub-local-api -- --setup

# Template lint, then every test against its own stack on free ports. The Lambda
# smoke tests run the real function binaries, so those are built first.
test:
	$(STACK) lint
	cargo build --workspace --bins
	$(STACK) run -- $(TEST_CMD)

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
# of 100,000 seeded users (BENCH_USERS to change).
BENCH_USERS ?= 100000
bench-export:
	$(STACK) run -- cargo run --release -p userhub-tests --bin bench_export -- --users $(BENCH_USERS)

install:
	$(STACK) install

clean-local:
	rm -rf .local
