# Two commands do everything on a fresh machine (as root): `make run` and `make test`.
# The work is in scripts/; see README.md.
.PHONY: run test stop psql install fmt lint

run:
	@scripts/dev.sh run

test:
	@scripts/test.sh

stop:
	@scripts/dev.sh stop

psql:
	@scripts/dev.sh psql

install:
	@scripts/dev.sh install

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	python3 scripts/module_cycles.py
