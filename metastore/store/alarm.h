/* The cluster's alarms (etcd's alarm store): which member raised which alarm, replicated state. */
#ifndef MS_ALARM_H
#define MS_ALARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/buf.h"

/* etcd's AlarmType values (etcdserverpb). */
enum ms_alarm_type {
	MS_ALARM_NONE = 0,
	MS_ALARM_NOSPACE = 1,
	MS_ALARM_CORRUPT = 2,
};

struct ms_alarm {
	uint64_t member_id;
	enum ms_alarm_type type;
};

/* At most this many alarms are held (members times types, with room). */
#define MS_ALARMS_MAX 64

struct ms_alarms {
	struct ms_alarm v[MS_ALARMS_MAX]; /* ordered by member id, then type */
	size_t n;
};

/* Raises `type` for `member_id`. Returns 1 if it was not raised, 0 if it was, -EINVAL for
 * MS_ALARM_NONE or an unknown type, -ENOSPC when the table is full. */
int ms_alarms_activate(struct ms_alarms *a, uint64_t member_id, enum ms_alarm_type type);

/* Clears `type` for `member_id`. Returns 1 if it was raised, 0 if not. */
int ms_alarms_deactivate(struct ms_alarms *a, uint64_t member_id, enum ms_alarm_type type);

/* Whether any member has raised `type`. */
bool ms_alarms_any(const struct ms_alarms *a, enum ms_alarm_type type);

/* Appends the table to out (for snapshots). Returns 0 or -ENOMEM. */
int ms_alarms_dump(const struct ms_alarms *a, struct ms_buf *out);

/* Replaces the table with a dumped one. Returns 0 or -EINVAL (malformed: a unchanged). */
int ms_alarms_load(struct ms_alarms *a, const uint8_t *data, size_t len);

/* etcd's name of an alarm type ("NOSPACE", "CORRUPT", "NONE"). */
const char *ms_alarm_type_name(enum ms_alarm_type type);

#endif /* MS_ALARM_H */
