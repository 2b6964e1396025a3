/*
 * memscope-top --serve: no screen; the figures of every session of the
 * user (or of -p PID's) over HTTP, in the Prometheus text exposition
 * format (version 0.0.4), for a Prometheus server to scrape.
 *
 * The main thread reads the sessions and their call sites' names every -d
 * seconds and makes the whole body then; the HTTP server's one thread
 * hands out the newest body as it is. A scrape costs a reference count,
 * and the symbols (single-owner) stay on the main thread.
 *
 * Runs: readers only (memscope-top).
 */
#ifndef MEMSCOPE_TUI_SERVE_H
#define MEMSCOPE_TUI_SERVE_H

#include <stddef.h>

#include "options.h"

/* Splits --serve's ADDR:PORT into host and port: "PORT" and ":PORT" are
 * 127.0.0.1's; "[ADDR]:PORT" takes an IPv6 address. Returns 0, or -1 when
 * it is not an address and port. */
int ms_serve_parse_address(const char *arg, char *host, size_t host_len, char *port,
			   size_t port_len);

/* Serves until SIGINT or SIGTERM. Returns memscope-top's exit status: 0,
 * or 1 when it could not listen where it was told. */
int ms_serve_run(const struct ms_top_options *opt);

#endif
