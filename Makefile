# metastore + metastore-agent: one Makefile for the store, the BPF objects, the agent and the tests.
# `make` builds everything into build/; `make test` runs all tests; `make run` starts store + agent.

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

BUILD   ?= build
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c
ARCH    := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages the build, the tests and `make run` need (installed by `make deps`, with
# policy-rc.d saying no to the services some of them would start: etcd on 2379, prometheus).
DEB_PKGS := gcc make clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev \
	libmicrohttpd-dev libcmocka-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler \
	libuv1-dev libraft-dev libyaml-dev pkg-config etcd-client prometheus curl jq systemd \
	libclang-rt-14-dev libcrypt-dev iproute2 etcd-server python3-grpcio libssl-dev openssl golang-go \
	strace valgrind

GEN := $(BUILD)/gen
WARN := -Wall -Wextra -Werror
COMMON_CFLAGS := -O2 -g $(WARN) -MMD -MP -D_GNU_SOURCE -Iinclude -I$(GEN) $(EXTRA_CFLAGS)

# metastore is linked non-PIE: gcc only puts its 5-byte entry NOP (-mnop-mcount) in non-PIC
# code, and the probe functions need it for the kernel's optimized uprobe path.
MS_CFLAGS := $(COMMON_CFLAGS) -fno-pie -Imetastore
MS_PROBE_CFLAGS := -pg -mfentry -mnop-mcount -fno-optimize-sibling-calls
MS_LDFLAGS := -no-pie
MS_LIBS := -lnghttp2 -lprotobuf-c -lraft -luv -lz -lcrypt -lssl -lcrypto

AGENT_CFLAGS := $(COMMON_CFLAGS) -Iagent -I$(BUILD)/bpf
AGENT_LIBS := -lbpf -ldw -lelf -lz -lmicrohttpd -lyaml -lpthread -lm

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Ivmlinux -Iinclude

# --- sources --------------------------------------------------------------------------
PROTOS := $(wildcard metastore/proto/*.proto)
PROTO_C := $(patsubst metastore/proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
PROTO_O := $(patsubst $(GEN)/%.c,$(BUILD)/obj/metastore/gen/%.o,$(PROTO_C))

MS_SRCS := $(filter-out metastore/cmd/main.c metastore/cmd/preallocate.c,$(wildcard metastore/*/*.c))
MS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(MS_SRCS)) $(PROTO_O)
MS_LIB  := $(BUILD)/libmetastore.a

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))

AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(AGENT_SRCS))
AGENT_LIB  := $(BUILD)/libagent.a

UNIT_MS    := $(patsubst tests/unit/metastore/%.c,$(BUILD)/tests/metastore/%,$(wildcard tests/unit/metastore/test_*.c))
UNIT_AGENT := $(patsubst tests/unit/agent/%.c,$(BUILD)/tests/agent/%,$(wildcard tests/unit/agent/test_*.c))

METASTORE := $(BUILD)/metastore
AGENT     := $(BUILD)/metastore-agent

.PHONY: all deps check-deps metastore agent unit e2e test run vmlinux clean
all: $(BUILD)/.deps-ok $(BUILD)/.layers-ok $(METASTORE) $(AGENT) $(UNIT_MS) $(UNIT_AGENT) \
	$(BUILD)/tests/e2e/loadclient

metastore: $(METASTORE)
agent: $(AGENT)

# --- Debian packages ------------------------------------------------------------------
# Installs what is missing when run as root; otherwise prints the exact apt-get line.
deps:
	$(Q)missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			guard=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
				printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; \
				chmod 755 /usr/sbin/policy-rc.d; guard=1; \
			fi; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
			rc=$$?; [ -z "$$guard" ] || rm -f /usr/sbin/policy-rc.d; [ $$rc = 0 ] || exit 1; \
		else \
			echo "missing Debian packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi

$(BUILD)/.deps-ok: Makefile
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)mkdir -p $(@D) && touch $@

# --- vmlinux.h ------------------------------------------------------------------------
# Checked in so the BPF objects build the same everywhere; regenerate from the running kernel.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

# --- protobuf -------------------------------------------------------------------------
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: metastore/proto/%.proto | $(BUILD)/.deps-ok
	$(call msg,PROTOC,$<)
	$(Q)mkdir -p $(GEN)
	$(Q)$(PROTOC_C) --c_out=$(GEN) -Imetastore/proto $<

$(BUILD)/obj/metastore/gen/%.o: $(GEN)/%.c $(PROTO_H)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(MS_CFLAGS) -c $< -o $@

# --- metastore ------------------------------------------------------------------------
$(BUILD)/obj/metastore/probe/probes.o: MS_EXTRA := $(MS_PROBE_CFLAGS)

$(BUILD)/obj/metastore/%.o: metastore/%.c | $(PROTO_H) $(BUILD)/.deps-ok
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(MS_CFLAGS) $(MS_EXTRA) -c $< -o $@

# The store's layers (metastore/<layer>/) include only the layers below them.
$(BUILD)/.layers-ok: tests/layers/check_layers.sh $(wildcard metastore/*/*.[ch])
	$(call msg,LAYERS,metastore)
	$(Q)tests/layers/check_layers.sh >/dev/null || tests/layers/check_layers.sh
	$(Q)mkdir -p $(@D) && touch $@

$(MS_LIB): $(MS_OBJS) | $(BUILD)/.layers-ok
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(METASTORE): $(BUILD)/obj/metastore/cmd/main.o $(BUILD)/obj/metastore/cmd/preallocate.o $(MS_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(MS_LDFLAGS) $(EXTRA_LDFLAGS) -o $@ $^ $(MS_LIBS)

# --- BPF ------------------------------------------------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c | $(BUILD)/.deps-ok
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- agent ----------------------------------------------------------------------------
$(BUILD)/obj/agent/%.o: agent/%.c | $(SKELS) $(BUILD)/.deps-ok
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) $(AGENT_EXTRA) -c $< -o $@

$(AGENT_LIB): $(AGENT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The git revision the agent reports (--version, metastore_agent_build_info); main.o is rebuilt
# when it changes.
GIT_REV := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(BUILD)/.git-rev: FORCE
	$(Q)mkdir -p $(@D); [ "$$(cat $@ 2>/dev/null)" = "$(GIT_REV)" ] || echo "$(GIT_REV)" >$@
$(BUILD)/obj/agent/main.o: $(BUILD)/.git-rev
$(BUILD)/obj/agent/main.o: AGENT_EXTRA := -DMS_GIT_REVISION='"$(GIT_REV)"'
.PHONY: FORCE
FORCE:

$(AGENT): $(BUILD)/obj/agent/main.o $(AGENT_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(EXTRA_LDFLAGS) -o $@ $^ $(AGENT_LIBS)

# --- tests ----------------------------------------------------------------------------
# One cmocka binary per module: tests/unit/<component>/test_<module>.c.
$(BUILD)/tests/metastore/%: tests/unit/metastore/%.c $(MS_LIB) | $(PROTO_H)
	$(call msg,TEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(MS_CFLAGS) $(MS_LDFLAGS) -o $@ $< $(MS_LIB) $(MS_LIBS) -lcmocka

$(BUILD)/tests/agent/%: tests/unit/agent/%.c $(AGENT_LIB) | $(SKELS)
	$(call msg,TEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) -o $@ $< $(AGENT_LIB) $(AGENT_LIBS) -lcmocka

# The e2e tests' own gRPC client (watch streams that stop reading; puts), with the store's
# generated protobuf objects (non-PIC, hence -no-pie).
LOADCLIENT := $(BUILD)/tests/e2e/loadclient
$(LOADCLIENT): tests/e2e/loadclient.c $(PROTO_O) | $(PROTO_H)
	$(call msg,TEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(MS_CFLAGS) $(MS_LDFLAGS) -o $@ $< $(PROTO_O) -lnghttp2 -lprotobuf-c

# Go targets: the Go programs the pclntab and probe-site tests read.
include tests/unit/agent/go/go.mk
include tools/go_offsets/tools.mk

unit: $(UNIT_MS) $(UNIT_AGENT)
	$(Q)fail=0; for t in $^; do \
		if $$t >$$t.log 2>&1; then echo "  PASS     $$t"; \
		else echo "  FAIL     $$t"; cat $$t.log; fail=1; fi; \
	done; exit $$fail

# (the benchmark load generator's rule is further down: its path is spelled out here)
e2e: $(METASTORE) $(AGENT) $(LOADCLIENT) $(BUILD)/bench/loadgen $(BUILD)/bench/go_toggle
	$(Q)METASTORE=$(abspath $(METASTORE)) AGENT=$(abspath $(AGENT)) \
		LOADCLIENT=$(abspath $(LOADCLIENT)) LOADGEN=$(abspath $(BUILD)/bench/loadgen) \
		GO_TOGGLE=$(abspath $(BUILD)/bench/go_toggle) \
		tests/e2e/run.sh

test: all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory fault-smoke
	$(Q)$(MAKE) --no-print-directory fuzz-smoke

# `make install` (root): the binaries, the systemd units, alert rules, dashboard and Prometheus
# config at the paths the README and the units use; DESTDIR and PREFIX as usual.
PREFIX ?= /usr/local
.PHONY: install
install: $(METASTORE) $(AGENT)
	$(Q)install -D -m 755 $(METASTORE) $(DESTDIR)$(PREFIX)/bin/metastore
	$(Q)install -D -m 755 $(AGENT) $(DESTDIR)$(PREFIX)/bin/metastore-agent
	$(Q)for u in metastore metastore-agent; do \
		install -D -m 644 deploy/$$u.service $(DESTDIR)/etc/systemd/system/$$u.service; done
	$(Q)for f in alerts.yml grafana-dashboard.json prometheus.yml; do \
		install -D -m 644 deploy/$$f $(DESTDIR)$(PREFIX)/share/metastore/$$f; done
	$(Q)echo "installed under $(DESTDIR)$(PREFIX) and $(DESTDIR)/etc/systemd/system"

run: all
	$(Q)METASTORE=$(abspath $(METASTORE)) AGENT=$(abspath $(AGENT)) deploy/run-local.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- sanitizers -----------------------------------------------------------------------
# `make asan`: the store and the agent built with AddressSanitizer + UBSan (gcc) into
# $(BUILD)/asan/, for tests/e2e/test_asan.sh. The store stays non-PIE with its nop5 probe
# sites (ASan works with -no-pie on x86_64); UBSan findings abort (no recovery).
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
.PHONY: asan
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan EXTRA_CFLAGS="$(ASAN_FLAGS)" \
		EXTRA_LDFLAGS="$(ASAN_FLAGS)" $(BUILD)/asan/metastore $(BUILD)/asan/metastore-agent

# --- benchmarks -----------------------------------------------------------------------
# `make bench` (root): probe and /metrics costs, store overhead with the agent attached,
# the store against etcd (installs etcd-server if missing) and the agent's own CPU and RSS,
# written to docs/BENCHMARKS.md. Never part of `make test`.
.PHONY: bench
BENCH_DIR := $(BUILD)/bench
BENCH_BINS := $(BENCH_DIR)/probe_cost $(BENCH_DIR)/render_cost $(BENCH_DIR)/loadgen
LOADGEN_SRCS := bench/loadgen.c bench/lg_opts.c bench/lg_stats.c bench/lg_verify.c bench/lg_watch.c \
	bench/lg_phases.c bench/lg_phase_ctl.c bench/schedstat.c \
	bench/h2client.c

$(BENCH_DIR)/%.bpf.o: bench/%.bpf.c | $(BUILD)/.deps-ok
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BENCH_DIR)/%.skel.h: $(BENCH_DIR)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BENCH_DIR)/probe_cost: bench/probe_cost.c metastore/probe/clock.c $(BENCH_DIR)/probe_cost.skel.h \
		$(AGENT_LIB) | $(SKELS)
	$(call msg,BENCH-CC,$<)
	$(Q)$(CC) $(AGENT_CFLAGS) -I$(BENCH_DIR) -Imetastore -o $@ $< metastore/probe/clock.c \
		$(AGENT_LIB) $(AGENT_LIBS)

$(BENCH_DIR)/render_cost: bench/render_cost.c $(AGENT_LIB) | $(SKELS)
	$(call msg,BENCH-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) -o $@ $< $(AGENT_LIB) $(AGENT_LIBS)

# The probe switcher of bench/go_overhead.sh's phases: the agent's loader, detached and
# re-attached on command.
$(BENCH_DIR)/go_toggle: bench/go_toggle.c $(AGENT_LIB) | $(SKELS)
	$(call msg,BENCH-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) -o $@ $< $(AGENT_LIB) $(AGENT_LIBS)

# The load generator links the store's generated protobuf objects (non-PIC, hence -no-pie).
$(BENCH_DIR)/loadgen: $(LOADGEN_SRCS) $(wildcard bench/*.h) $(PROTO_O) | $(PROTO_H)
	$(call msg,BENCH-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(MS_CFLAGS) -Ibench $(MS_LDFLAGS) -o $@ $(LOADGEN_SRCS) $(PROTO_O) \
		-lnghttp2 -lprotobuf-c -lpthread -lm

# The overhead scripts' statistics (bootstrap intervals), schedstat and PMU counters.
$(BENCH_DIR)/bench_stats: bench/bench_stats.c bench/stats.c bench/stats.h bench/schedstat.c bench/schedstat.h
	$(call msg,BENCH-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(COMMON_CFLAGS) -Ibench -o $@ bench/bench_stats.c bench/stats.c bench/schedstat.c -lm

UNIT_BENCH := $(BUILD)/tests/bench/test_stats $(BUILD)/tests/bench/test_lg_phases
$(BUILD)/tests/bench/test_lg_phases: tests/unit/bench/test_lg_phases.c bench/lg_phases.c \
		bench/lg_phases.h bench/lg_phase_ctl.c bench/lg_phase_ctl.h bench/schedstat.c \
		bench/schedstat.h
	$(call msg,TEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(COMMON_CFLAGS) -Ibench -o $@ $< bench/lg_phases.c bench/lg_phase_ctl.c \
		bench/schedstat.c -lcmocka -lpthread
$(BUILD)/tests/bench/test_stats: tests/unit/bench/test_stats.c bench/stats.c bench/stats.h
	$(call msg,TEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(COMMON_CFLAGS) -Ibench -o $@ $< bench/stats.c -lcmocka -lm

unit: $(UNIT_BENCH)
all: $(UNIT_BENCH) $(BENCH_DIR)/bench_stats $(BENCH_DIR)/go_toggle

# The store built to take no storage operation timestamps (and write no storage records):
# bench/run.sh measures what timing storage operations costs a call against it.
NST_DIR := $(BENCH_DIR)/no-storage-times
.PHONY: $(NST_DIR)/metastore
$(NST_DIR)/metastore:
	$(Q)$(MAKE) --no-print-directory BUILD=$(NST_DIR) EXTRA_CFLAGS=-DMS_TRACE_NO_STORAGE_TIMES \
		$(NST_DIR)/metastore

bench: $(BENCH_BINS) $(METASTORE) $(AGENT) $(BENCH_DIR)/go_probe_cost $(BENCH_DIR)/bench_stats \
		$(BENCH_DIR)/go_toggle $(NST_DIR)/metastore
	$(Q)GO_PROBE_COST=$(BENCH_DIR)/go_probe_cost GO_PROBE_LOOP=$(BENCH_DIR)/go_probe_loop \
		NO_STORAGE_TIMES_STORE=$(NST_DIR)/metastore \
		bench/run.sh $(BENCH_BINS) $(METASTORE) $(AGENT) docs/BENCHMARKS.md

# --- fuzzing ----------------------------------------------------------------------------
# libFuzzer harnesses (clang, ASan + UBSan; the runtime is in libclang-rt-14-dev), built
# straight from the sources so that no BPF object or libbpf is needed. `make fuzz` runs each
# target FUZZ_SECONDS; `make fuzz-smoke` is the short run for the test suite. New corpus
# entries go to $(BUILD)/fuzz/corpus/<target>; tests/fuzz/corpus/<target> holds the seeds.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_FLAGS ?=
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined $(WARN) -D_GNU_SOURCE -Iinclude -I$(GEN)
FUZZ_TARGETS := fuzz_expo fuzz_buckets_args fuzz_grpc_request fuzz_peer_hs
FUZZ_BINS := $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))

FUZZ_SRCS_fuzz_expo := agent/expo.c agent/expo_render.c agent/expo_num.c
FUZZ_LIBS_fuzz_expo := -lm
FUZZ_SRCS_fuzz_buckets_args := agent/buckets.c agent/args.c agent/args_listen.c agent/config.c \
	agent/subsys.c agent/log.c
FUZZ_LIBS_fuzz_buckets_args := -lyaml -lm
# the KV handlers down through the apply layer and the store (the harness stands in for the
# gRPC call and server functions)
FUZZ_SRCS_fuzz_grpc_request := metastore/rpc/grpc.c metastore/rpc/pb_scan.c \
	$(wildcard metastore/store/*.c metastore/apply/*.c) metastore/probe/probes.c \
	metastore/probe/trace.c metastore/probe/clock.c \
	metastore/api/kv_service.c metastore/api/kv_txn.c \
	metastore/api/reply.c metastore/api/propose.c metastore/api/quota.c \
	metastore/raft/raftnode.c metastore/raft/raft_route.c metastore/raft/wait.c \
	metastore/raft/leader_wait.c metastore/raft/ready.c metastore/raft/io_once.c \
	metastore/raft/snap_fork.c \
	metastore/raft/transport.c metastore/raft/peer_conn.c metastore/raft/peer_hs.c \
	metastore/raft/fwd_proof.c metastore/raft/raft_fwd.c \
	metastore/raft/members.c metastore/raft/member_change.c metastore/raft/member_conf.c \
	metastore/raft/member_fetch.c metastore/rpc/tls.c $(PROTO_C)
FUZZ_LIBS_fuzz_grpc_request := $(MS_LIBS)
# the raft peer handshake decoder and the member check
FUZZ_SRCS_fuzz_peer_hs := metastore/raft/peer_hs.c

.PHONY: fuzz-build fuzz fuzz-smoke
fuzz-build: $(FUZZ_BINS)

.SECONDEXPANSION:
$(BUILD)/fuzz/%: tests/fuzz/%.c $$(FUZZ_SRCS_$$*) | $(PROTO_H)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Iagent -Imetastore -o $@ $^ $(FUZZ_LIBS_$*)

# $(1): seconds per target. Crashes land in $(BUILD)/fuzz/artifacts/<target>-crash-<sha1>.
fuzz_run = fail=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/artifacts; \
		echo "  FUZZ     $$t ($(1) s)"; \
		if $(BUILD)/fuzz/$$t -max_total_time=$(1) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- $(FUZZ_FLAGS) \
			$(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
			>$(BUILD)/fuzz/$$t.log 2>&1; then \
			grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' \
				$(BUILD)/fuzz/$$t.log | sed 's/^/           /'; \
		else echo "  FAIL     $$t (see $(BUILD)/fuzz/$$t.log)"; \
			grep -E 'ERROR|SUMMARY|check failed|internal fault' $(BUILD)/fuzz/$$t.log | head -5; \
			fail=1; fi; \
	done; exit $$fail

fuzz: $(FUZZ_BINS)
	$(Q)$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: $(FUZZ_BINS)
	$(Q)$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

# --- fault suite ------------------------------------------------------------------------
# A Jepsen-style fault harness (tests/fault/) for a 3-member cluster of etcd (the control)
# or metastore: unique-key writers, registers, watchers and leases under kill -9, SIGSTOP
# and partitions (network namespaces when run as root), then history checks.
# `make fault TARGET=etcd|metastore` is a bounded run (DURATION seconds of faults, default
# 120); DURATION=1200 is the long mode. `make test` runs `fault-smoke`, `make stress` the long
# mode on both. The checker's unit tests (tests/unit/fault/) are part of `make unit`.
FAULT_DIR := $(BUILD)/fault
FAULT_SRCS := $(wildcard tests/fault/*.c) bench/h2client.c
FAULT_CHECK_SRCS := tests/fault/fault.c tests/fault/fwgl.c tests/fault/fcheck.c
UNIT_FAULT := $(patsubst tests/unit/fault/%.c,$(BUILD)/tests/fault/%,$(wildcard tests/unit/fault/test_*.c))
TARGET ?= metastore
DURATION ?= 120
FAULT_CFLAGS := $(MS_CFLAGS) -Ibench -Itests/fault

$(FAULT_DIR)/fault: $(FAULT_SRCS) $(wildcard tests/fault/*.h) bench/h2client.h $(PROTO_O) | $(PROTO_H)
	$(call msg,FAULT-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FAULT_CFLAGS) $(MS_LDFLAGS) -o $@ $(FAULT_SRCS) $(PROTO_O) \
		-lnghttp2 -lprotobuf-c -lpthread

$(BUILD)/tests/fault/%: tests/unit/fault/%.c $(FAULT_CHECK_SRCS) $(wildcard tests/fault/*.h)
	$(call msg,TEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FAULT_CFLAGS) $(MS_LDFLAGS) -o $@ $< $(FAULT_CHECK_SRCS) -lcmocka -lpthread

unit: $(UNIT_FAULT)

.PHONY: fault fault-build
fault-build: $(FAULT_DIR)/fault $(UNIT_FAULT)

fault: $(FAULT_DIR)/fault $(if $(filter metastore,$(TARGET)),$(METASTORE))
	$(Q)TARGET=$(TARGET) DURATION=$(DURATION) FAULT_BIN=$(abspath $(FAULT_DIR)/fault) \
		METASTORE=$(abspath $(METASTORE)) bash tests/fault/run.sh

# $(1): etcd or metastore, $(2): seconds of faults.
fault_run = TARGET=$(1) DURATION=$(2) FAULT_BIN=$(abspath $(FAULT_DIR)/fault) \
	METASTORE=$(abspath $(METASTORE)) bash tests/fault/run.sh

# `make test`: a bounded run against etcd 3.4 (the control) and then metastore, long enough
# for every kind of fault at least once; `make stress`: 20 minutes of faults on each.
FAULT_SMOKE_SECONDS ?= 60
STRESS_FAULT_SECONDS ?= 1200
.PHONY: fault-smoke
fault-smoke: $(FAULT_DIR)/fault $(METASTORE)
	$(Q)$(call fault_run,etcd,$(FAULT_SMOKE_SECONDS)) && \
	$(call fault_run,metastore,$(FAULT_SMOKE_SECONDS))

# `make stress`: the long versions of the fault tests (kill -9 rounds, cluster kills, 20
# minutes of the fault suite on etcd and on metastore); `make test` runs the same with
# bounded defaults.
.PHONY: stress
stress: $(METASTORE) $(AGENT) $(FAULT_DIR)/fault
	$(Q)export METASTORE=$(abspath $(METASTORE)) AGENT=$(abspath $(AGENT)); \
	ROUNDS=20 bash tests/e2e/test_durability.sh && \
	KILLS=10 N_AFTER=30 bash tests/e2e/test_raft_cluster.sh && \
	$(call fault_run,etcd,$(STRESS_FAULT_SECONDS)) && \
	$(call fault_run,metastore,$(STRESS_FAULT_SECONDS))

