/* Password hashing for auth users: bcrypt ($2b$) through libxcrypt, with derived salts. */
#include "store/auth_password.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/auth.h"

#define SALT_BYTES 16

/* splitmix64: spreads one 64-bit state into well-mixed outputs. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Salt bytes from (name, rev): FNV-1a over the name, then the revision, then splitmix. */
static void derive_salt(const char *name, uint64_t rev, char salt[SALT_BYTES])
{
	uint64_t s = 0xcbf29ce484222325ull;

	for (const char *p = name; *p; p++)
		s = (s ^ (uint8_t)*p) * 0x100000001b3ull;
	s = (s ^ rev) * 0x100000001b3ull;
	for (size_t i = 0; i < SALT_BYTES; i += 8) {
		uint64_t v = mix(&s);

		memcpy(salt + i, &v, 8);
	}
}

int ms_auth_password_hash(const char *password, const char *name, uint64_t rev, unsigned cost,
			  char **out)
{
	char salt[SALT_BYTES], setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = NULL;
	const char *h;
	int err = 0;

	*out = NULL;
	if (cost < MS_AUTH_MIN_BCRYPT_COST || cost > MS_AUTH_MAX_BCRYPT_COST)
		return -EINVAL;
	derive_salt(name, rev, salt);
	if (!crypt_gensalt_rn("$2b$", cost, salt, SALT_BYTES, setting, sizeof(setting))) {
		err = -EINVAL;
		goto cleanup;
	}
	cd = calloc(1, sizeof(*cd));
	if (!cd) {
		err = -ENOMEM;
		goto cleanup;
	}
	h = crypt_r(password, setting, cd);
	if (!h || h[0] == '*') {
		err = -EINVAL;
		goto cleanup;
	}
	*out = strdup(h);
	if (!*out)
		err = -ENOMEM;
cleanup:
	free(cd);
	return err;
}

int ms_auth_password_verify(const char *password, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;
	unsigned char diff = 0;
	size_t n;
	int ok;

	if (!cd)
		return -ENOMEM;
	h = crypt_r(password, hash, cd);
	if (!h || h[0] == '*' || (n = strlen(h)) != strlen(hash)) {
		ok = 0;
		goto cleanup;
	}
	/* Compare every byte, whatever the first difference. */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(h[i] ^ hash[i]);
	ok = diff == 0;
cleanup:
	free(cd);
	return ok;
}
