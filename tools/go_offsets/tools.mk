# Go targets: the offsets tool of tools/go_offsets/gen_etcd_offsets.sh, built from the sources
# without the table it generates (GO_OFFSETS_NO_TABLE).
GO_OFFSETS_DUMP_SRCS := tools/go_offsets/go_offsets_dump.c agent/go_offsets.c agent/gopclntab.c

$(BUILD)/tools/go_offsets_dump: $(GO_OFFSETS_DUMP_SRCS) agent/go_offsets.h agent/gopclntab.h \
		| $(BUILD)/.deps-ok
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(COMMON_CFLAGS) -Iagent -DGO_OFFSETS_NO_TABLE -o $@ $(GO_OFFSETS_DUMP_SRCS) \
		-ldw -lelf
