# nosnat - build the dataplane, the loader and the tests.
# `make` builds build/nosnat (one binary: the BPF object is embedded through
# the skeleton). `make V=1` shows commands.

VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
OUT       := build
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

AR        ?= ar
PKG_CONFIG ?= pkg-config

# CFLAGS is yours (make CFLAGS=-O1); what the build needs is in NOSNAT_CFLAGS.
CFLAGS    ?= -O2 -g
LIBS_PC   := libbpf libelf zlib yaml-0.1 libcurl json-c
NOSNAT_CFLAGS := $(EXTRA_DEFS) -Wall -Wextra -Werror -std=gnu11 -Iinclude -I$(OUT) -Iuser \
	     -DNOSNAT_VERSION='"$(VERSION)"' -MMD -MP \
	     $(shell $(PKG_CONFIG) --cflags $(LIBS_PC) 2>/dev/null)
ALL_CFLAGS := $(NOSNAT_CFLAGS) $(CFLAGS)
# libraries from pkg-config; glibc's resolver library for base64
LDLIBS    := $(shell $(PKG_CONFIG) --libs $(LIBS_PC) 2>/dev/null || echo -lbpf -lelf -lz -lyaml -lcurl -ljson-c) \
	     -lresolv -lpthread
BPF_CFLAGS := $(EXTRA_DEFS) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude \
	     $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH)) -Wall -Wextra -Werror -MMD -MP

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

USER_SRCS := user/log.c user/parse.c user/maglev.c user/pins.c user/mapio.c user/state.c \
	     user/vips.c user/pods.c user/ops.c user/verify.c user/netdev.c user/attach.c \
	     user/names.c user/show.c user/config.c user/apply.c user/metrics.c user/run.c \
	     user/kube.c user/kube_creds.c user/kube_http.c user/kube_client.c \
	     user/ydoc.c user/migrate.c user/maglev_read.c
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))

.SECONDARY:
.PHONY: all next deps test test-bins test-unit test-bpf test-e2e test-reliability bench demo fuzz clean \
	image test-image install
all: $(OUT)/nosnat

$(OUT) $(OUT)/user $(OUT)/tests:
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@.tmp && mv $@.tmp $@

$(OUT)/user/%.o: user/%.c | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Everything that includes the skeleton waits for it.
$(OUT)/user/attach.o: $(OUT)/nosnat.skel.h
$(OUT)/user/maglev_read.o: $(OUT)/maglev_read.skel.h

# The loader's code as a library: programs link only the members they use
# (the unit tests never pull in the skeleton).
$(OUT)/libnosnat.a: $(USER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUT)/nosnat: $(OUT)/user/main.o $(OUT)/libnosnat.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

# Test builds only: the fault points (user/vips.c, NOSNAT_FAULT_* in the
# environment) are compiled in with -DNOSNAT_FAULTS, never in build/nosnat.
FAULT_DEFS := -DNOSNAT_FAULTS
FAULT_OBJS := $(patsubst user/%.c,$(OUT)/faults/%.o,$(USER_SRCS))
$(OUT)/faults:
	$(Q)mkdir -p $@
$(OUT)/faults/%.o: user/%.c | $(OUT)/faults
	$(call msg,CC-FAULT,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(FAULT_DEFS) -c $< -o $@
$(OUT)/faults/attach.o: $(OUT)/nosnat.skel.h
$(OUT)/faults/maglev_read.o: $(OUT)/maglev_read.skel.h
$(OUT)/libnosnat-faults.a: $(FAULT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
# The daemon with fault points, for the e2e tests that inject faults.
$(OUT)/nosnat-faults: $(OUT)/user/main.o $(OUT)/libnosnat-faults.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

# The loader built with AddressSanitizer and UBSan, for the tests (with
# the fault points: a test build).
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
	     $(FAULT_DEFS)
SAN_OBJS  := $(patsubst user/%.c,$(OUT)/san/%.o,user/main.c $(USER_SRCS))
$(OUT)/san:
	$(Q)mkdir -p $@
$(OUT)/san/%.o: user/%.c | $(OUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(OUT)/san/attach.o: $(OUT)/nosnat.skel.h
$(OUT)/san/maglev_read.o: $(OUT)/maglev_read.skel.h
$(OUT)/nosnat-asan: $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# The BPF tests: harness, one file per area, the benchmark (tests/bench).
BPF_TEST_OBJS := $(patsubst %.c,$(OUT)/%.o,$(filter-out %.bpf.c,$(wildcard tests/bpf/*.c)) \
		 tests/bench/bench.c tests/bench/katran.c)

# The loader's own test suites, sanitized (make test-reliability).
$(OUT)/san/tests/%.o: tests/%.c $(OUT)/nosnat.skel.h $(OUT)/bench.skel.h $(OUT)/ct_helper.skel.h $(OUT)/tc_twin.skel.h
	$(Q)mkdir -p $(dir $@)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Itests -c $< -o $@
SAN_LIB_OBJS := $(filter-out $(OUT)/san/main.o,$(SAN_OBJS))
$(OUT)/test_unit-san: $(OUT)/san/tests/unit/test_unit.o $(SAN_LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -lm -o $@
$(OUT)/test_bpf-san: $(patsubst $(OUT)/%,$(OUT)/san/%,$(BPF_TEST_OBJS)) $(SAN_LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# The same nosnat with a flow layout grown by a field, in its own build
# directory: the upgrade test attaches it over pins of the real one and back.
next:
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/next EXTRA_DEFS=-DNOSNAT_TEST_FLOW_SPARE \
		$(OUT)/next/nosnat

# --- tests ---------------------------------------------------------------
$(OUT)/tests/%.o: tests/%.c | $(OUT)/tests
	$(Q)mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -c $< -o $@

$(BPF_TEST_OBJS): $(OUT)/nosnat.skel.h $(OUT)/bench.skel.h $(OUT)/ct_helper.skel.h $(OUT)/tc_twin.skel.h

$(OUT)/ct_helper.bpf.o: tests/bpf/ct_helper.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/tc_twin.bpf.o: tests/bpf/tc_twin.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bench.bpf.o: tests/bench/bench.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/test_unit: $(OUT)/tests/unit/test_unit.o $(OUT)/libnosnat.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -lm -o $@

$(OUT)/test_bpf: $(BPF_TEST_OBJS) $(OUT)/libnosnat-faults.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/xdp_pass.bpf.o: tests/e2e/xdp_pass.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# libFuzzer harnesses with ASan and UBSan (clang only), one object per
# source so that header changes rebuild them (-MMD).
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	      -Iinclude -Iuser -Wall -Wextra -Werror
$(OUT)/fuzz/%.o: %.c
	$(Q)mkdir -p $(dir $@)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -MMD -MP -c $< -o $@
$(OUT)/fuzz_config: $(OUT)/fuzz/tests/fuzz/fuzz_config.o $(OUT)/fuzz/user/config.o $(OUT)/fuzz/user/parse.o \
		   $(OUT)/fuzz/user/ydoc.o
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $^ -lyaml -o $@

$(OUT)/fuzz_spec: $(OUT)/fuzz/tests/fuzz/fuzz_spec.o $(OUT)/fuzz/user/parse.o
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $^ -o $@

$(OUT)/fuzz_kube: $(OUT)/fuzz/tests/fuzz/fuzz_kube.o $(OUT)/fuzz/user/kube.o $(OUT)/fuzz/user/parse.o \
		 $(OUT)/fuzz/user/config.o $(OUT)/fuzz/user/ydoc.o
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $^ -ljson-c -lyaml -o $@

fuzz: $(OUT)/fuzz_config $(OUT)/fuzz_spec $(OUT)/fuzz_kube
	$(Q)tests/fuzz/run.sh

deps:
	@scripts/deps.sh

test-unit: $(OUT)/test_unit
	$(Q)$(OUT)/test_unit tests/fixtures

test-bpf: $(OUT)/test_bpf
	$(Q)$(OUT)/test_bpf

test-e2e: $(OUT)/nosnat $(OUT)/nosnat-faults $(OUT)/xdp_pass.bpf.o $(OUT)/nsn_tcp $(OUT)/nsn_flood next
	$(Q)tests/e2e/run.sh

# The full suite; prints one "N passed, N failed" line at the end.
TEST_BINS := $(OUT)/nosnat $(OUT)/nosnat-faults $(OUT)/test_unit $(OUT)/test_bpf $(OUT)/xdp_pass.bpf.o $(OUT)/nsn_tcp \
	     $(OUT)/nsn_flood \
	     $(OUT)/fuzz_config $(OUT)/fuzz_spec $(OUT)/fuzz_kube $(OUT)/nosnat-asan next
test-bins: $(TEST_BINS)
test: $(TEST_BINS)
	$(Q)tests/run_all.sh

demo:
	$(Q)scripts/demo.sh

# The DaemonSet's image, built with podman on a Debian 12 base bootstrapped
# from the package archive (no registry), and run as deploy/daemonset.yaml
# says on an emulated node (root).
IMAGE := localhost/nosnat:$(VERSION)
image:
	$(Q)scripts/image.sh $(VERSION)

test-image: image $(OUT)/nosnat $(OUT)/nsn_tcp $(OUT)/xdp_pass.bpf.o
	$(Q)tests/image/run.sh $(IMAGE)

# Benchmarks (root): writes BENCHMARKS.md.
bench: $(OUT)/test_bpf $(OUT)/nosnat $(OUT)/nsn_tcp $(OUT)/xdp_pass.bpf.o
	$(Q)scripts/deps.sh --bench
	$(Q)scripts/bench.sh

# The long reliability and security suite (minutes, bounded); its fast
# parts are in `make test`.
test-reliability: $(TEST_BINS) $(OUT)/test_unit-san $(OUT)/test_bpf-san
	$(Q)tests/reliability/run.sh

# Binary, man page and systemd unit (its ExecStart pointed at the binary).
PREFIX  ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: $(OUT)/nosnat
	$(Q)install -D -m 0755 $(OUT)/nosnat $(DESTDIR)$(PREFIX)/sbin/nosnat
	$(Q)install -D -m 0644 doc/nosnat.8 $(DESTDIR)$(PREFIX)/share/man/man8/nosnat.8
	$(Q)mkdir -p $(DESTDIR)$(UNITDIR)
	$(Q)sed 's|/usr/local/sbin/nosnat|$(PREFIX)/sbin/nosnat|g' deploy/nosnat.service \
		>$(DESTDIR)$(UNITDIR)/nosnat.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/nosnat.service

clean:
	$(Q)rm -rf $(OUT)

-include $(wildcard $(OUT)/*.d $(OUT)/user/*.d $(OUT)/faults/*.d $(OUT)/san/*.d $(OUT)/tests/*/*.d $(OUT)/san/tests/*/*.d \
	$(OUT)/fuzz/user/*.d $(OUT)/fuzz/tests/fuzz/*.d)

$(OUT)/nsn_tcp: tests/e2e/nsn_tcp.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@

$(OUT)/nsn_flood: tests/e2e/nsn_flood.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@
