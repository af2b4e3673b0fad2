/* Series builders: the label sets each family exports, from values already read from the maps. */
#include "series.h"

#include <stddef.h>

/* The labels of one series: the node label (when given) first, then up to two more. */
struct series_labels {
	struct expo_label l[3];
	size_t n;
};

static void labels_init(struct series_labels *s, const char *node)
{
	s->n = 0;
	if (node)
		s->l[s->n++] = (struct expo_label){ "node", node };
}

static void labels_push(struct series_labels *s, const char *name, const char *value)
{
	s->l[s->n++] = (struct expo_label){ name, value };
}

static int first_err(int err, int rc)
{
	return err ? err : rc;
}

int series_per_method(struct expo_family *f, const char *node, const uint64_t *v)
{
	int err = 0;

	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++) {
		struct series_labels s;

		if (m == MS_METHOD_UNKNOWN && !v[m])
			continue;
		labels_init(&s, node);
		labels_push(&s, "method", ms_method_name(m));
		err = first_err(err, expo_series_add_u64(f, s.l, s.n, v[m]));
	}
	return err;
}

int series_request_total(struct expo_family *f, const char *node, const uint64_t *count)
{
	int err = 0;

	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++) {
		for (uint32_t code = 0; code < MS_GRPC_CODE_COUNT; code++) {
			uint64_t v = count[m * MS_GRPC_CODE_COUNT + code];
			struct series_labels s;

			if (m == MS_METHOD_UNKNOWN && !v)
				continue;
			labels_init(&s, node);
			labels_push(&s, "method", ms_method_name(m));
			labels_push(&s, "code", ms_grpc_code_name(code));
			err = first_err(err, expo_series_add_u64(f, s.l, s.n, v));
		}
	}
	return err;
}

int series_enum(struct expo_family *f, const char *node, const char *name,
		const char *const *names, uint32_t nr, const uint64_t *v)
{
	int err = 0;

	for (uint32_t i = 0; i < nr; i++) {
		struct series_labels s;

		labels_init(&s, node);
		labels_push(&s, name, names[i]);
		err = first_err(err, expo_series_add_u64(f, s.l, s.n, v[i]));
	}
	return err;
}
