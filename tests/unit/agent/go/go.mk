# Go programs the agent's unit tests read (pclntab, probe sites), built offline with Debian's
# golang-go: once linked by Go itself, once by the external linker (C code first in .text).
GO_TEST_DIR := $(BUILD)/tests/go
GO_ENV := GO111MODULE=off GOFLAGS= GOPROXY=off GOCACHE=$(abspath $(BUILD))/go-cache \
	GOPATH=$(abspath $(BUILD))/go-path
GO_TEST_BINS := $(GO_TEST_DIR)/target_internal $(GO_TEST_DIR)/target_external

$(GO_TEST_DIR)/target_internal: tests/unit/agent/go/target.go | $(BUILD)/.deps-ok
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GO_ENV) go build -ldflags=-linkmode=internal -o $@ $<

$(GO_TEST_DIR)/target_external: tests/unit/agent/go/target.go | $(BUILD)/.deps-ok
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GO_ENV) go build -ldflags=-linkmode=external -o $@ $<

GO_UNIT_TESTS := $(BUILD)/tests/agent/test_gopclntab $(BUILD)/tests/agent/test_go_sites \
	$(BUILD)/tests/agent/test_go_offsets $(BUILD)/tests/agent/test_go_target
$(GO_UNIT_TESTS): $(GO_TEST_BINS)
$(GO_UNIT_TESTS): AGENT_CFLAGS += -DGO_TEST_DIR='"$(abspath $(GO_TEST_DIR))"'

# bench/go_probe_cost: ns per hit on each kind of Go probe site (part of `make bench`).
$(BUILD)/bench/go_probe_loop: bench/go/probe_loop.go bench/go/nops_amd64.s | $(BUILD)/.deps-ok
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GO_ENV) go build -ldflags=-linkmode=external -o $(abspath $@) ./bench/go

$(BUILD)/bench/go_probe_cost: bench/go_probe_cost.c $(BUILD)/bench/probe_cost.skel.h $(AGENT_LIB) \
		$(BUILD)/bench/go_probe_loop | $(SKELS)
	$(call msg,BENCH-CC,$<)
	$(Q)$(CC) $(AGENT_CFLAGS) -I$(BUILD)/bench -o $@ $< $(AGENT_LIB) $(AGENT_LIBS)

# test_go_morestack: a Go program whose stacks grow, and a BPF object counting jbe hits.
$(GO_TEST_DIR)/stackgrow: tests/unit/agent/go/stackgrow.go | $(BUILD)/.deps-ok
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GO_ENV) go build -ldflags=-linkmode=external -o $@ $<

$(GO_TEST_DIR)/morestack.bpf.o: tests/unit/agent/go/morestack.bpf.c bpf/go_common.bpf.h \
		| $(BUILD)/.deps-ok
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf -c $< -o $@

$(GO_TEST_DIR)/morestack.skel.h: $(GO_TEST_DIR)/morestack.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/tests/agent/test_go_morestack: $(GO_TEST_DIR)/stackgrow $(GO_TEST_DIR)/morestack.skel.h
$(BUILD)/tests/agent/test_go_morestack: AGENT_CFLAGS += -DGO_TEST_DIR='"$(abspath $(GO_TEST_DIR))"' \
	-I$(GO_TEST_DIR)
