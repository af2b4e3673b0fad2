/* gRPC message framing and grpc-message encoding (pure helpers; the transport is server.c). */
#include "rpc/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum grpc_unframe_result grpc_unframe(const uint8_t *body, size_t body_len, size_t max_len,
				      const uint8_t **msg, size_t *len)
{
	uint32_t n;

	if (body_len == 0)
		return GRPC_UNFRAME_EMPTY;
	if (body_len < GRPC_FRAME_HDR)
		return GRPC_UNFRAME_TRUNCATED;
	n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4];
	*len = n;
	if (body[0] != 0)
		return GRPC_UNFRAME_COMPRESSED;
	if (n > max_len)
		return GRPC_UNFRAME_TOO_LARGE;
	if (body_len - GRPC_FRAME_HDR < n)
		return GRPC_UNFRAME_TRUNCATED;
	if (body_len - GRPC_FRAME_HDR > n)
		return GRPC_UNFRAME_TRAILING;
	*msg = body + GRPC_FRAME_HDR;
	return GRPC_UNFRAME_OK;
}

static const char *const internal_paths[] = {
	[GRPC_METHOD_LEASE_RENEW - MS_METHOD_COUNT] = "/metastorepb.Internal/LeaseRenew",
	[GRPC_METHOD_MEMBER_PUBLISH - MS_METHOD_COUNT] = "/metastorepb.Internal/MemberPublish",
	[GRPC_METHOD_READ_INDEX - MS_METHOD_COUNT] = "/metastorepb.Internal/ReadIndex",
};

const char *grpc_method_path(uint32_t id)
{
	if (id >= MS_METHOD_COUNT && id < GRPC_METHOD_COUNT)
		return internal_paths[id - MS_METHOD_COUNT];
	return ms_method_name(id);
}

uint32_t grpc_method_lookup(const char *path, size_t len)
{
	for (uint32_t i = MS_METHOD_COUNT; i < GRPC_METHOD_COUNT; i++) {
		const char *p = internal_paths[i - MS_METHOD_COUNT];

		if (strlen(p) == len && memcmp(p, path, len) == 0)
			return i;
	}
	return ms_method_lookup(path, len);
}

void grpc_frame_header(uint8_t hdr[GRPC_FRAME_HDR], uint32_t len)
{
	hdr[0] = 0;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

char *grpc_percent_encode(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n * 3 + 1);

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%')
			o += (size_t)sprintf(out + o, "%%%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	return out;
}

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *grpc_percent_decode(const uint8_t *v, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '%' && i + 2 < len && hex_val(v[i + 1]) >= 0 && hex_val(v[i + 2]) >= 0) {
			*o++ = (char)(hex_val(v[i + 1]) << 4 | hex_val(v[i + 2]));
			i += 2;
		} else {
			*o++ = (char)v[i];
		}
	}
	*o = '\0';
	return out;
}

int grpc_path_split(const char *path, size_t len, const char **svc, size_t *svc_len,
		    const char **meth, size_t *meth_len)
{
	const char *slash;

	if (len && path[0] == '/') {
		path++;
		len--;
	}
	slash = len ? memrchr(path, '/', len) : NULL;
	if (!slash)
		return -EINVAL;
	*svc = path;
	*svc_len = (size_t)(slash - path);
	*meth = slash + 1;
	*meth_len = len - *svc_len - 1;
	return 0;
}

/* Writes `s` as a Go %q literal would show it, as much as fits in outlen (NUL included). */
static void quote(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len + 2; i++) {
		bool edge = i == 0 || i == len + 1;
		unsigned char c = edge ? '"' : (unsigned char)s[i - 1];
		char piece[5];
		size_t n;

		if (!edge && (c == '"' || c == '\\'))
			n = (size_t)snprintf(piece, sizeof(piece), "\\%c", c);
		else if (!edge && (c < 0x20 || c > 0x7e))
			n = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", c);
		else
			n = (size_t)snprintf(piece, sizeof(piece), "%c", c);
		if (o + n + 1 > outlen)
			break;
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
}

void grpc_unimplemented_message(const char *path, size_t len, bool service_known, char *out,
				size_t outlen)
{
	const char *svc, *meth;
	size_t svc_len, meth_len, o;

	if (!outlen)
		return;
	if (grpc_path_split(path, len, &svc, &svc_len, &meth, &meth_len)) {
		o = (size_t)snprintf(out, outlen, "malformed method name: ");
		if (o < outlen)
			quote(out + o, outlen - o, path, len);
		return;
	}
	if (service_known)
		snprintf(out, outlen, "unknown method %.*s for service %.*s", (int)meth_len, meth,
			 (int)svc_len, svc);
	else
		snprintf(out, outlen, "unknown service %.*s", (int)svc_len, svc);
}
