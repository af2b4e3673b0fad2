/* The cluster's alarms (etcd's alarm store): which member raised which alarm, replicated state. */
#include "store/alarm.h"

#include <errno.h>
#include <string.h>

#include "store/codec.h"

static int cmp(const struct ms_alarm *x, uint64_t member_id, enum ms_alarm_type type)
{
	if (x->member_id != member_id)
		return x->member_id < member_id ? -1 : 1;
	return (x->type > type) - (x->type < type);
}

/* Index of the alarm or of where it goes. */
static size_t find(const struct ms_alarms *a, uint64_t member_id, enum ms_alarm_type type,
		   bool *found)
{
	size_t i = 0;

	while (i < a->n && cmp(&a->v[i], member_id, type) < 0)
		i++;
	*found = i < a->n && cmp(&a->v[i], member_id, type) == 0;
	return i;
}

int ms_alarms_activate(struct ms_alarms *a, uint64_t member_id, enum ms_alarm_type type)
{
	bool found;
	size_t i;

	if (type != MS_ALARM_NOSPACE && type != MS_ALARM_CORRUPT)
		return -EINVAL;
	i = find(a, member_id, type, &found);
	if (found)
		return 0;
	if (a->n == MS_ALARMS_MAX)
		return -ENOSPC;
	memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(a->v[0]));
	a->v[i] = (struct ms_alarm){ .member_id = member_id, .type = type };
	a->n++;
	return 1;
}

int ms_alarms_deactivate(struct ms_alarms *a, uint64_t member_id, enum ms_alarm_type type)
{
	bool found;
	size_t i = find(a, member_id, type, &found);

	if (!found)
		return 0;
	memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(a->v[0]));
	a->n--;
	return 1;
}

bool ms_alarms_any(const struct ms_alarms *a, enum ms_alarm_type type)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].type == type)
			return true;
	return false;
}

int ms_alarms_dump(const struct ms_alarms *a, struct ms_buf *out)
{
	int err = ms_put_u64(out, a->n);

	for (size_t i = 0; !err && i < a->n; i++) {
		err = ms_put_u64(out, a->v[i].member_id);
		if (!err)
			err = ms_put_u64(out, (uint64_t)a->v[i].type);
	}
	return err;
}

int ms_alarms_load(struct ms_alarms *a, const uint8_t *data, size_t len)
{
	struct ms_reader r = { .p = data, .left = len };
	struct ms_alarms tmp = { 0 };
	uint64_t n = ms_get_u64(&r);

	if (r.bad || n > MS_ALARMS_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id = ms_get_u64(&r), type = ms_get_u64(&r);

		if (r.bad || type > MS_ALARM_CORRUPT ||
		    ms_alarms_activate(&tmp, id, (enum ms_alarm_type)type) != 1)
			return -EINVAL;
	}
	if (r.left)
		return -EINVAL;
	*a = tmp;
	return 0;
}

const char *ms_alarm_type_name(enum ms_alarm_type type)
{
	switch (type) {
	case MS_ALARM_NOSPACE:
		return "NOSPACE";
	case MS_ALARM_CORRUPT:
		return "CORRUPT";
	default:
		return "NONE";
	}
}
