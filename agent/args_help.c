/* The --help and --list-probes texts of the agent's command line (args.h). */
#include <stdint.h>
#include <stdio.h>

#include "args.h"
#include "args_priv.h"
#include "buckets.h"
#include "ms_cli.h"
#include "subsys.h"

void agent_args_list_probes(FILE *out)
{
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		const struct subsys_desc *d = subsys_get(id);

		fprintf(out, "%s%s: %s\n", id ? "\n" : "", d->name, d->summary);
		/* One name per line, in a column after the "probes:" / "metrics:" label. */
		for (size_t i = 0; i < d->nr_probes; i++)
			fprintf(out, "  %-9s%s\n", i ? "" : "probes:", d->probes[i].func);
		for (size_t i = 0; d->metrics[i]; i++)
			fprintf(out, "  %-9s%s\n", i ? "" : "metrics:", d->metrics[i]);
	}
}

void agent_args_help(FILE *out)
{
	uint64_t b[MS_MAX_BUCKETS];
	uint32_t n = buckets_default(b, MS_MAX_BUCKETS);

	fprintf(out, "usage: metastore-agent (--binary PATH | --pid PID) [options]\n\n"
		     "Attaches eBPF uprobes to a metastore and serves its metrics in the Prometheus\n"
		     "text format on /metrics (also /health and /). Needs kernel BTF and CAP_BPF,\n"
		     "CAP_PERFMON, CAP_SYS_ADMIN and CAP_SETPCAP (root has them).\n\n"
		     "options:\n");
	ms_cli_print_options(out, agent_options, agent_nr_options);
	fprintf(out, "\ndefault buckets (seconds):");
	for (uint32_t i = 0; i < n; i++)
		fprintf(out, "%s%g", i ? "," : " ", (double)b[i] / 1e9);
	fprintf(out, "\n\nsubsystems (--probes):\n");
	agent_args_list_probes(out);
}
