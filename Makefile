# gupfast: the two commands a newcomer needs.
#   make demo   install missing Debian packages, build (Release, quietly), run `gupfast demo`
#   make test   install missing Debian packages, build (Release), run the whole test suite
# Other targets: build, asan (Debug + ASan/UBSan build and tests), tsan, bench, clean.
JOBS ?= $(shell nproc)
BUILD ?= build/release

.PHONY: demo test build deps asan tsan bench clean

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The build's progress in one line (scripts/quiet-build.sh), then the demo's own output; the
# report folder is $(BUILD)/demo (its index.html is the last line printed).
demo: deps
	@scripts/quiet-build.sh $(BUILD) $(JOBS)
	@$(BUILD)/tools/gupfast/gupfast demo --out $(BUILD)/demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DGUPFAST_SANITIZE=address >/dev/null
	@cmake --build build/asan -j $(JOBS)
	cd build/asan && ctest --output-on-failure -j $(JOBS)

tsan: deps
	@# Without the model backend: TSan does not follow the explorer's fiber stack switches,
	@# and the explorer runs on one OS thread (nothing for TSan to find there). Nor the
	@# real-thread race suites (Threads/*, Inject/*): their handshakes are fence-paired
	@# store-then-load pairs, which TSan does not model, so it reports the orderings they
	@# rely on as races (docs/architecture.md); the explorer and ASan runs cover them.
	@cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DGUPFAST_SANITIZE=thread -DGUPFAST_BUILD_MODEL=OFF >/dev/null
	@cmake --build build/tsan -j $(JOBS)
	cd build/tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/scripts/tsan.supp" ctest --output-on-failure -j $(JOBS) -LE no-tsan -E '^(Threads|Inject)/'

# Full mode (a few minutes): the table on stdout, the report in $(BUILD)/bench.json, the
# plots in $(BUILD)/bench-plots/ (docs/benchmarks.md).
bench: build
	$(BUILD)/tools/gupfast/gupfast bench --json $(BUILD)/bench.json --plots $(BUILD)/bench-plots

clean:
	rm -rf build
