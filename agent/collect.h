/* Collector: turns the loaded subsystems' BPF maps into metric families on each scrape. */
#ifndef AGENT_COLLECT_H
#define AGENT_COLLECT_H

#include <stdbool.h>
#include <stddef.h>

#include "expo.h"
#include "loader.h"

struct collector;

/* Creates a collector over `l` (borrowed; must outlive the collector); `version` and
 * `revision` (static strings) label metastore_agent_build_info. Returns 0 or -errno. */
int collector_new(struct loader *l, const char *version, const char *revision,
		  struct collector **out);

struct binwatch;

/* Adds the --binary watcher's re-attachments to the metrics and its failures to the health
 * check (`w` borrowed; must outlive the collector, or be unset with NULL first). */
void collector_set_binwatch(struct collector *c, struct binwatch *w);

/* --pid: /health is 200 only while that process is a member that reports (pid <= 0: none,
 * then every member seen must be up). */
void collector_set_target_pid(struct collector *c, int pid);

/* Frees the collector; NULL is allowed. */
void collector_free(struct collector *c);

/*
 * Reads every map and renders the exposition in `fmt` into `out` (appended). Safe to call
 * from several HTTP threads: scrapes are serialized. Returns 0 or -errno; a map that cannot
 * be read is counted in metastore_agent_map_read_errors_total and its families are skipped.
 */
int collector_render(struct collector *c, enum expo_format fmt, struct expo_buf *out);

/* True while every selected probe is attached and each subsystem's maps can be read right
 * now; otherwise false with a one-line reason in `why`. */
bool collector_healthy(struct collector *c, char *why, size_t len);

#endif /* AGENT_COLLECT_H */
