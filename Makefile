# Developer entry points. `make test` is the whole test suite (README and CI run it).
CARGO_TARGET_DIR ?= /var/cache/toogoodtogo-target
export CARGO_TARGET_DIR
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export DATABASE_URL
REDIS_URL ?= redis://127.0.0.1:6379
export REDIS_URL

.PHONY: test test-rust test-deployment run build bench

## Whole test suite: Rust unit, database and end-to-end tests, then the deployment checks.
test: test-rust test-deployment

test-rust:
	cargo build --workspace --bins --locked
	cargo nextest run --workspace --locked --no-fail-fast

test-deployment:
	@if [ -x deployment/tests/run.sh ]; then deployment/tests/run.sh; else echo "no deployment tests"; fi

build:
	cargo build --workspace --release --locked

run:
	cargo run --release --locked -p toogoodtogo-bot -- serve

bench:
	cargo build --release --locked -p toogoodtogo-bot
	cargo bench --locked -p toogoodtogo-tests --bench webhook_throughput
