# Tests: `make check` runs them all (tests/run.sh sums the counts).
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(wildcard tests/unit/test_*.c))

$(OUTPUT)/unit:
	$(Q)mkdir -p $@

# the pure core, built again with sanitizers for the tests
$(OUTPUT)/unit/%: tests/unit/%.c tests/unit/events.h $(CORE_SRCS) $(wildcard user/*.h) | $(OUTPUT)/unit
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) -g -O1 $(SAN) $(WARN) -Wno-unused-function $(INCLUDES) $< $(CORE_SRCS) -lcmocka -lnghttp2 -o $@

unit: $(UNIT_TESTS)
	$(Q)for t in $(UNIT_TESTS); do $$t || exit 1; done

# deps first, alone: the build itself needs what it installs
deps:
	$(Q)tests/deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory connstate $(OUTPUT)/connstate-static $(UNIT_TESTS) \
		$(FUZZ_BINS)
	$(Q)tests/run.sh

# the suites that run real servers under connstate (root, BPF)
integration: connstate $(OUTPUT)/connstate-static
	$(Q)tests/run.sh oracle servers cli

demo: deps
	$(Q)$(MAKE) --no-print-directory connstate
	$(Q)tests/demo.sh

# libFuzzer: every tests/fuzz/fuzz_NAME.c is a target (no rule to add), with
# tests/fuzz/NAME.dict as its dictionary and tests/fuzz/corpus/NAME as seeds.
# `make fuzz` shares FUZZ_SECONDS among the targets; `make fuzz-long` runs each
# FUZZ_RUNS times (one at a time); `make fuzz-corpus` merges what the runs
# found into the repository's corpus. FUZZ_TARGETS=http1 picks targets.
FUZZ_SECONDS ?= 20
FUZZ_RUNS ?= 10000000
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRCS) $(wildcard user/*.h) | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)clang $(FUZZ_CFLAGS) $(WARN) $(INCLUDES) $< $(CORE_SRCS) -lnghttp2 -o $@

.PHONY: fuzz fuzz-long fuzz-corpus
fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/fuzz.sh --seconds $(FUZZ_SECONDS) $^

fuzz-long: $(FUZZ_BINS)
	$(Q)tests/fuzz/fuzz.sh --runs $(FUZZ_RUNS) $^

fuzz-corpus: $(FUZZ_BINS)
	$(Q)tests/fuzz/fuzz.sh --merge $^

# the oracle scenarios inside Debian's 5.10, 6.1 and 6.12 kernels (qemu, TCG);
# `make vmtest KERNEL=6.1` for one, KERNEL=/path/to/vmlinuz for your own
vmtest: export VMTEST = 1
vmtest: deps $(OUTPUT)/connstate-static
	$(Q)tests/vm/vmtest.sh --connstate $(OUTPUT)/connstate-static \
		$(foreach k,$(KERNEL),--kernel $(k))

# overhead against the untraced server (nginx + wrk); a tool, not a test
bench: export BENCH = 1
bench: deps connstate
	$(Q)tests/bench/bench.sh

# ~1,000,000 requests on nginx with connstate -j, checked per connection
# against the access log (under 10 minutes); SOAK_QUICK=1 for about a minute
soak: export SOAK = 1
soak: deps connstate
	$(Q)tests/soak/soak.sh
