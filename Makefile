# flbench — build, test, run, bench.
#
#   make            all binaries into bin/ (release: -O2)
#   make run        deps, build, run the default scenario (today: the rt seam demo)
#   make test       deps, lint, sanitized build (ASan+UBSan), every unit and shell test
#   make deps       install missing Debian packages (as root) or say what to install
#   make bench      benchmarks (ratios measured side by side; never part of `make test`)
#   make fuzz       libFuzzer targets (tests/fuzz/), each run FUZZ_S seconds on its corpus
#   make clean
#
# Sources are found by wildcard: every .c under node/ (but node/main/), sim/ (but sim/main/) and
# netem/ (but netem/main/) goes into one static library; every node/main/*.c, sim/main/*.c and
# netem/main/*.c is a program named after its file (fl_server.c -> bin/fl-server); every
# tests/unit/test_*.c is a Check program. node/proto/*.cc (C++17, over the headers flatc generates
# from node/proto/*.fbs into $(OUT)/gen/) join the library. BUILD moves the build tree.

BUILD   ?= build
VARIANT ?= rel
OUT     := $(BUILD)/$(VARIANT)

CC      ?= cc
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
NVCC    ?= $(firstword $(wildcard /usr/local/cuda/bin/nvcc) $(shell command -v nvcc 2>/dev/null))

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes
# gcc's -Wformat-truncation flags every snprintf that may cut (we cut on purpose); clang lacks it
WARN    += $(shell $(CC) -Werror -Wno-format-truncation -x c -c /dev/null -o /dev/null 2>/dev/null && echo -Wno-format-truncation)
CPPFLAGS_ALL := -D_GNU_SOURCE -I. -Inode -I$(LLHTTP_INC)
ifeq ($(VARIANT),asan)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else ifeq ($(VARIANT),fuzz)
# libFuzzer's coverage on every object; the fuzzer's main only in the targets (see `make fuzz`)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	   -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=fuzzer,address,undefined
else
OPT     := -O2 -g
LDSAN   :=
endif
CFLAGS_ALL := -std=c11 $(WARN) $(OPT) $(CFLAGS)
LDLIBS_ALL := -luv -lcjson -lssl -lcrypto -lopenblas -lsodium -lz -lm -lpthread -lstdc++ $(LDLIBS)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -lpthread)

LIB_SRC  := $(sort $(filter-out node/main/% sim/main/% netem/main/%,\
              $(wildcard node/*/*.c node/*.c sim/*.c sim/*/*.c netem/*.c reports/*.c)))
MAIN_SRC := $(sort $(wildcard node/main/*.c sim/main/*.c netem/main/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))

# The device protocol (node/proto/fl_wire.cc): C++ over the code flatc generates from
# node/proto/*.fbs into $(OUT)/gen/ (never committed). Every node/proto/*.cc joins the library.
CXX     ?= g++
FLATC   ?= flatc
GEN     := $(OUT)/gen
FBS     := $(sort $(wildcard node/proto/*.fbs))
FBS_H   := $(FBS:node/proto/%.fbs=$(GEN)/%_generated.h)
LIB_CXX_SRC := $(sort $(wildcard node/proto/*.cc))
CXXWARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow
# no virtual calls in our C++, and the C linker does not bring UBSan's C++ runtime
CXXFLAGS_ALL := -std=c++17 $(CXXWARN) $(OPT) $(if $(filter -fsanitize%,$(OPT)),-fno-sanitize=vptr) $(CXXFLAGS)

LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o) $(LIB_CXX_SRC:%.cc=$(OUT)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(OUT)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(OUT)/obj/%.o) $(SUPPORT_SRC:%.c=$(OUT)/obj/%.o)
LIB      := $(OUT)/libflbench.a
LLHTTP_LIB := $(OUT)/llhttp/libllhttp.a
BINDIR   := $(if $(filter rel,$(VARIANT)),bin,$(OUT)/bin)
BINS     := $(foreach m,$(MAIN_SRC),$(BINDIR)/$(subst _,-,$(basename $(notdir $(m)))))
TESTS    := $(TEST_SRC:tests/unit/%.c=$(OUT)/tests/%)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(OUT)/obj/%.o)

.PHONY: all build tests run test deps lint unit shell bench clean
.PRECIOUS: $(OUT)/obj/%.o
all: build
build: $(BINS)
tests: $(TESTS) $(BINS)

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# flatc writes every schema's header at once (fl_job.fbs includes cipher.fbs)
$(FBS_H) &: $(FBS)
	@mkdir -p $(GEN)
	$(FLATC) --cpp -o $(GEN) $(FBS) 2>&1 | { grep -v -e '^warning:' -e 'snake_case' || true; }
$(OUT)/obj/%.o: %.cc $(FBS_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) -I$(GEN) $(CXXFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# llhttp from Debian's sources (node-llhttp); not our code, so no -Werror.
$(OUT)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g $(filter -fsanitize%,$(OPT)) -I$(LLHTTP_INC) -w -c $< -o $@
$(LLHTTP_LIB): $(OUT)/llhttp/api.o $(OUT)/llhttp/http.o $(OUT)/llhttp/llhttp.o
	rm -f $@ && ar rcs $@ $^

define main_rule
$(BINDIR)/$(subst _,-,$(basename $(notdir $(1)))): $(OUT)/obj/$(1:.c=.o) $(LIB) $(LLHTTP_LIB)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDSAN) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach m,$(MAIN_SRC),$(eval $(call main_rule,$(m))))

$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(LIB) $(LLHTTP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_ALL)

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# The commit a run's summary.json names: a header rewritten only when HEAD moves, so the one file
# that prints it (sim/engine/verdict.c) is rebuilt then and nothing else is.
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
$(OUT)/commit.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define FL_COMMIT "$(COMMIT)"' >$@.tmp; cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(OUT)/obj/sim/engine/verdict.o: $(OUT)/commit.h
$(OUT)/obj/sim/engine/verdict.o: CPPFLAGS_ALL += -include $(OUT)/commit.h
.PHONY: FORCE
FORCE:

# CUDA (optional): where nvcc exists, the release build compiles sim/fleet/*.cu (the batched
# cuBLAS training backend) into bin/fl-fleet only. The sanitized test build never uses it (the
# CUDA runtime and ASan do not mix), so test_train_cuda reports itself skipped there.
ifneq ($(NVCC),)
ifeq ($(VARIANT),rel)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_OBJ  := $(patsubst %.cu,$(OUT)/obj/%.o,$(sort $(wildcard sim/fleet/*.cu)))
NVCCFLAGS ?= -O2 -std=c++17 -arch=sm_80
$(OUT)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -D_GNU_SOURCE -I. -Inode -Xcompiler -Wall,-Wextra -MMD -MP -c $< -o $@
$(OUT)/obj/sim/main/fl_fleet.o: CPPFLAGS_ALL += -DFL_HAVE_CUDA
$(BINDIR)/fl-fleet: $(CUDA_OBJ)
$(BINDIR)/fl-fleet: LDLIBS_ALL += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
-include $(CUDA_OBJ:.o=.d)
endif
endif

deps:
	@scripts/deps.sh

lint:
	@scripts/lint.sh
	@scripts/deps-check.sh

# Unit tests of one variant (ASan by default through `make test`). T=name runs one test.
unit: $(TESTS) $(BINS)
	@scripts/run-tests.sh $(OUT)/tests $(T)

# Shell tests drive the real binaries of the variant.
shell: $(BINS)
	@BIN=$(abspath $(BINDIR)) scripts/run-shell-tests.sh $(T)

# Build first (in parallel with -j), then the unit tests, then the shell tests, one after the other.
test: deps lint
	$(MAKE) VARIANT=asan tests
	$(MAKE) VARIANT=asan unit
	$(MAKE) VARIANT=asan shell
	$(MAKE) fuzz-smoke

run: deps
	$(MAKE) build
	bin/sim run scenarios/quickstart.json
	@echo "report: reports/out/quickstart/report.html"


# ---- benchmarks (issue 8; tests/bench/): every tests/bench/*.c is a program of its own,
# $(OUT)/bench/<name>, built and run only by `make bench` (never by `make test`).
$(OUT)/bench/%: $(OUT)/obj/tests/bench/%.o $(LIB) $(LLHTTP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL)
-include $(wildcard $(OUT)/obj/tests/bench/*.d)

bench: deps
	$(MAKE) build $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(wildcard tests/bench/*.c))
	BIN=$(abspath $(BINDIR)) BENCH_BIN=$(abspath $(OUT)/bench) sh tests/bench/run.sh
# ---- end of benchmarks

# ---- fuzzing (issue 17; tests/fuzz/): every tests/fuzz/fuzz_*.c is a libFuzzer target built by
# clang in its own tree (build/fuzz/, with its own llhttp) from the node and simulator sources
# the targets reach. `make fuzz FUZZ_S=60` runs each for FUZZ_S seconds on its corpus
# (tests/fuzz/corpus/<name>/); `make test` runs each for FUZZ_SMOKE_S seconds, or says it
# skipped them where clang or libFuzzer is missing.
FUZZ_CC   ?= $(or $(shell command -v clang 2>/dev/null),$(shell command -v clang-14 2>/dev/null),clang)
FUZZ_S    ?= 60
FUZZ_SMOKE_S ?= 2
FUZZ_CXX  ?= $(or $(shell command -v clang++ 2>/dev/null),$(shell command -v clang++-14 2>/dev/null),clang++)
FUZZ_LIB_SRC := $(sort $(wildcard node/rt/*.c node/proto/*.c node/util/*.c node/model/*.c \
		  node/sched/*.c node/server/*.c sim/rt/*.c sim/scenario/*.c netem/link.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz/%)
$(OUT)/fuzz/%: $(OUT)/obj/tests/fuzz/%.o $(LIB) $(LLHTTP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL)
-include $(wildcard $(OUT)/obj/tests/fuzz/*.d)

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds
fuzz-build:
	@tests/fuzz/run.sh --check $(FUZZ_CC) || { echo "fuzz: $(FUZZ_CC) cannot build a libFuzzer \
	target (apt-get install clang libfuzzer-14-dev)" >&2; exit 1; }
	$(MAKE) VARIANT=fuzz CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) LIB_SRC="$(FUZZ_LIB_SRC)" MAIN_SRC= TEST_SRC= $(FUZZ_BINS)
fuzz: fuzz-build
	tests/fuzz/run.sh $(BUILD)/fuzz/fuzz $(FUZZ_S) $(FUZZ_NAMES)
# the recovery-file seeds, rewritten by the real code (tests/fuzz/seedgen.c; by hand only)
$(OUT)/seedgen: $(OUT)/obj/tests/fuzz/seedgen.o $(LIB) $(LLHTTP_LIB)
	$(CC) -fsanitize=fuzzer-no-link,address,undefined -o $@ $^ $(LDLIBS_ALL)
fuzz-seeds:
	$(MAKE) VARIANT=fuzz CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) LIB_SRC="$(FUZZ_LIB_SRC)" MAIN_SRC= TEST_SRC= $(BUILD)/fuzz/seedgen
	$(BUILD)/fuzz/seedgen tests/fuzz/corpus
fuzz-smoke:
	@if tests/fuzz/run.sh --check $(FUZZ_CC); then \
		$(MAKE) fuzz-build && tests/fuzz/run.sh $(BUILD)/fuzz/fuzz $(FUZZ_SMOKE_S) $(FUZZ_NAMES); \
	else echo "fuzz: SKIPPED (no clang with libFuzzer: apt-get install clang libfuzzer-14-dev)"; fi
# ---- end of fuzzing

clean:
	rm -rf build bin reports/out
