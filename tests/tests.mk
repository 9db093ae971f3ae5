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
		$(OUTPUT)/fuzz_tracker
	$(Q)tests/run.sh

# the suites that run real servers under connstate (root, BPF)
integration: connstate $(OUTPUT)/connstate-static
	$(Q)tests/run.sh oracle servers cli

demo: deps
	$(Q)$(MAKE) --no-print-directory connstate
	$(Q)tests/demo.sh

# libFuzzer over event streams; `make fuzz FUZZ_SECONDS=600` for a long run
FUZZ_SECONDS ?= 20
$(OUTPUT)/fuzz_tracker: tests/fuzz/fuzz_tracker.c $(CORE_SRCS) $(wildcard user/*.h) | $(OUTPUT)
	$(call msg,FUZZ-CC,$@)
	$(Q)clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(INCLUDES) $< $(CORE_SRCS) -lnghttp2 -o $@

fuzz: $(OUTPUT)/fuzz_tracker
	$(Q)mkdir -p $(OUTPUT)/fuzz-corpus
	$(Q)$< -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/http.dict \
		$(OUTPUT)/fuzz-corpus 2>$(OUTPUT)/fuzz.log && echo "fuzz: 1 passed, 0 failed" || \
		{ tail -n 30 $(OUTPUT)/fuzz.log; echo "fuzz: 0 passed, 1 failed"; }

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
