# gupfast: the two commands a newcomer needs.
#   make demo   install missing Debian packages, build (Release, quietly), run `gupfast demo`
#   make test   install missing Debian packages, build (Release), run the whole test suite
# Other targets: build, asan (Debug + ASan/UBSan build and tests), tsan, fuzz, bench, clean.
JOBS ?= $(shell nproc)
BUILD ?= build/release

.PHONY: demo test build deps asan tsan fuzz bench clean

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
	@# and the explorer runs on one OS thread (nothing for TSan to find there). Everything
	@# else runs, the real-thread race suites (Threads/*, Inject/*) and stress included: in
	@# TSan builds every seam access is seq_cst, so TSan sees the fence-paired handshakes'
	@# orderings (sync::real_order, docs/architecture.md); any report fails its test.
	@cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DGUPFAST_SANITIZE=thread -DGUPFAST_BUILD_MODEL=OFF >/dev/null
	@cmake --build build/tsan -j $(JOBS)
	@# atexit_sleep_ms=0: TSan otherwise sleeps a second at every exit (for threads still
	@# running; ours are joined), which was most of this run's time (a process per test).
	cd build/tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/scripts/tsan.supp:atexit_sleep_ms=0" ctest --output-on-failure -j $(JOBS) -LE no-tsan

# libFuzzer campaigns (docs/fuzzing.md): clang 16 (the model backend's std::source_location
# needs clang >= 15; Debian 12's default clang is 14), coverage + ASan/UBSan, in build/fuzz. Each
# target runs FUZZ_SECONDS (default 60) from its seed corpus; new inputs go to build/fuzz/corpus/.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh clang-16 libclang-rt-16-dev
	@cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGUPFAST_FUZZ=ON >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target mm_fuzz litmus_mm_fuzz litmus_herd_fuzz
	@mkdir -p build/fuzz/corpus/mm build/fuzz/corpus/litmus_mm build/fuzz/corpus/litmus_herd
	build/fuzz/tests/fuzz/mm_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=20 -max_len=512 -print_final_stats=1 \
	  build/fuzz/corpus/mm tests/fuzz/corpus/mm
	build/fuzz/tests/fuzz/litmus_mm_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	  build/fuzz/corpus/litmus_mm tests/litmus tests/litmus/errors tests/litmus/zoo tests/fuzz/corpus/litmus_mm
	build/fuzz/tests/fuzz/litmus_herd_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	  build/fuzz/corpus/litmus_herd tests/memory tests/memory/errors tests/fuzz/corpus/litmus_herd

# Full mode (a few minutes): the table on stdout, the report in $(BUILD)/bench.json, the
# plots in $(BUILD)/bench-plots/ (docs/benchmarks.md).
bench: build
	$(BUILD)/tools/gupfast/gupfast bench --json $(BUILD)/bench.json --plots $(BUILD)/bench-plots

clean:
	rm -rf build
