/* Service manager notification (systemd's sd_notify protocol) without libsystemd. */
#ifndef AGENT_NOTIFY_H
#define AGENT_NOTIFY_H

/*
 * Connects a datagram socket to $NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace) while the agent may still reach it. Returns 0 with *fd the socket, 0 with *fd -1
 * when the variable is not set, or -errno (bad address, connect failure).
 */
int notify_open(int *fd);

/* Sends one notification ("READY=1", "STOPPING=1"); fd -1 does nothing. Returns 0 or -errno. */
int notify_send(int fd, const char *msg);

#endif /* AGENT_NOTIFY_H */
