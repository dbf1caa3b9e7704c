# Developer entry points. `make test` is the whole test suite (README and CI run it).
# Builds go to ./target unless CARGO_TARGET_DIR says otherwise (CI keeps it under /var/cache).
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export DATABASE_URL
REDIS_URL ?= redis://127.0.0.1:6379
export REDIS_URL

.PHONY: test test-rust test-deployment run build bench bench-wrk bench-operator

## Whole test suite: Rust unit, database and end-to-end tests, then the deployment checks.
test: test-rust test-deployment

test-rust:
	cargo build --workspace --bins --locked
	cargo nextest run --workspace --locked --no-fail-fast

test-deployment:
	@if [ -x deployment/tests/run.sh ]; then deployment/tests/run.sh; else echo "no deployment tests"; fi

build:
	cargo build --workspace --release --locked

## The sandbox: the real bot, Telegram and Stripe fakes and a chat page on http://127.0.0.1:8080.
## Storage it picks itself, so the defaults above are not passed on (a caller's DATABASE_URL or
## REDIS_URL is). Extra arguments: make run ARGS="--port 9090 --keep".
SANDBOX_UNSET := $(if $(filter file,$(origin DATABASE_URL)),-u DATABASE_URL) $(if $(filter file,$(origin REDIS_URL)),-u REDIS_URL)
run:
	cargo build --locked -p toogoodtogo-bot
	env $(SANDBOX_UNSET) cargo run --locked -p toogoodtogo-sandbox -- $(ARGS)

## Benchmarks against the release bot: webhook throughput, then the marketplace (search, /browse
## round trip, reservations under contention). Tunables: BENCH_* (see each bench's header).
bench:
	cargo build --release --locked -p toogoodtogo-bot
	cargo bench --locked -p toogoodtogo-tests --bench webhook_throughput --bench marketplace --bench noisy_neighbour

## The webhook throughput with a stock load generator (wrk), for comparison with `make bench`.
bench-wrk:
	cargo build --release --locked -p toogoodtogo-bot -p toogoodtogo-tests --bins
	tests/wrk/run.sh

## The operator at scale on the API double: PLATFORMS platforms (default 1000) created at once,
## the time until all are Ready, API requests per converged reconcile, memory. Not in `make test`.
PLATFORMS ?= 1000
SEPARATE ?= 0
bench-operator:
	cargo build --release --locked -p toogoodtogo-operator --bin toogoodtogo-operator
	BENCH_PLATFORMS=$(PLATFORMS) BENCH_SEPARATE=$(SEPARATE) cargo test --release --locked -p toogoodtogo-operator --lib bench_operator -- --ignored --nocapture
