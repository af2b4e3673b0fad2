# Go targets: the offsets tool of tools/go_offsets/gen_etcd_offsets.sh.
$(BUILD)/tools/go_offsets_dump: tools/go_offsets/go_offsets_dump.c $(AGENT_LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) -o $@ $< $(AGENT_LIB) $(AGENT_LIBS)
