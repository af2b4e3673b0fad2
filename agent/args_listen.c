/* The --listen address: "IP:PORT" or "[IPv6]:PORT", numeric only (args.h). */
#include "args.h"
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int agent_args_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = listen;
	size_t hlen;
	char *end;
	long p;
	unsigned char addr[16];

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= hostlen)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(listen[0] == '[' ? AF_INET6 : AF_INET, host, addr) != 1)
		return -EINVAL;
	/* The port is checked after the address so that a bad port gets its own error. */
	/* Digits only: strtol alone would take "+80", " 80" and "-0". */
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || p > 65535)
		return -ERANGE;
	*port = (uint16_t)p;
	return 0;
}

/* The metrics path check lives here (not in http.c) so that argument parsing links without
 * the HTTP server. */
bool http_metrics_path_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;

	if (n < 2 || p[0] != '/' || n > HTTP_MAX_PATH || !strcmp(p, "/health"))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		/* printable, nothing an HTML attribute or a URL would treat specially */
		if (c <= 0x20 || c >= 0x7f || strchr("\"'<>&?#%\\", c))
			return false;
	}
	return true;
}
