/* Positive control for test_asan.sh: leaks on purpose after the agent's privilege drop. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "privs.h"

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* Drops privileges as the agent does (to argv[1] if given), starts a thread, leaks 77 bytes
 * and exits 0: LeakSanitizer must report the leak and change the exit status. */
int main(int argc, char **argv)
{
	void *volatile leak;
	char err[256];
	pthread_t t;

	if (privs_drop(argc > 1 ? argv[1] : NULL, err, sizeof(err))) {
		fprintf(stderr, "asan_canary: %s\n", err);
		return 3;
	}
	if (pthread_create(&t, NULL, idle, NULL))
		return 4;
	leak = malloc(77);
	leak = NULL;
	return leak != NULL;
}
