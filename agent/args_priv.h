/* The agent's option table, shared by the parser (args.c) and the help text (args_help.c). */
#ifndef AGENT_ARGS_PRIV_H
#define AGENT_ARGS_PRIV_H

#include <stddef.h>

#include "ms_cli.h"

extern const struct ms_cli_opt agent_options[];
extern const size_t agent_nr_options;

#endif /* AGENT_ARGS_PRIV_H */
