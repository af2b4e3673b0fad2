/* For test_agent_forge.sh: maps the probed file as any user may and calls its probe functions. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef void (*status_fn)(uint64_t node, uint64_t term, uint64_t leader, const void *limits);
typedef void (*u32_fn)(uint32_t v);

/*
 * forge_probes FILE STATUS_OFF REJECT_OFF LEASE_OFF NODE: maps FILE (read + exec, as the
 * dynamic loader would) and calls, at those file offsets, ms_probe_raft_status as member
 * NODE with term 99, then as 64 invented members, ms_probe_conn_reject 5 times and
 * ms_probe_lease_active(77) once. The probe bodies are a 5-byte NOP and a return, so they run
 * anywhere. Exits 0 after the calls, 1 on a setup error.
 */
int main(int argc, char **argv)
{
	struct stat st;
	uint8_t *base;
	uint64_t node;
	int fd;

	if (argc != 6)
		return 1;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		return perror(argv[1]), 1;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (base == MAP_FAILED)
		return perror("mmap"), 1;
	node = strtoull(argv[5], NULL, 16);
	((status_fn)(base + strtoul(argv[2], NULL, 0)))(node, 99, node, NULL);
	for (uint64_t n = 1; n <= 64; n++)
		((status_fn)(base + strtoul(argv[2], NULL, 0)))(n, 1, n, NULL);
	for (int i = 0; i < 5; i++)
		((u32_fn)(base + strtoul(argv[3], NULL, 0)))(1);
	((u32_fn)(base + strtoul(argv[4], NULL, 0)))(77);
	return 0;
}
