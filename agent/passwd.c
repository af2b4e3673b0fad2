/* Basic auth passwords: bcrypt checks against the web configuration's hashes. */
#include "passwd.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* libxcrypt's crypt_r; its crypt_data is 32 KiB, allocated per check */
typedef char *(*crypt_r_fn)(const char *phrase, const char *setting, void *data);
#define CRYPT_DATA_SIZE 32768

static crypt_r_fn crypt_r_p;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen("libcrypt.so.1", RTLD_NOW | RTLD_LOCAL);

	if (h)
		crypt_r_p = (crypt_r_fn)dlsym(h, "crypt_r");
}

int passwd_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int passwd_check(const char *hash, const char *password)
{
	void *data;
	char *out;
	int rc;

	pthread_once(&once, load);
	if (!crypt_r_p)
		return -ENOSYS;
	data = calloc(1, CRYPT_DATA_SIZE);
	if (!data)
		return -ENOMEM;
	out = crypt_r_p(password, hash, data);
	/* failures come back as NULL or as a string starting with '*' */
	rc = out && out[0] != '*' && passwd_equal(out, hash);
	free(data);
	return rc;
}
