#define _GNU_SOURCE
#include "list.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <memscope/frame.h>
#include <memscope/platform.h>
#include <memscope/session.h>
#include <memscope/snapshot.h>

int ms_list_sessions(int clean)
{
	ms_session_entry *list;
	int n = ms_session_list(ms_shm_dir(), &list), removed = 0;

	if (n < 0) {
		fprintf(stderr, "memscope-top: cannot list %s: %s\n", ms_shm_dir(),
			ms_reader_strerror(n));
		return 1;
	}
	printf("%8s %4s %-8s %10s %12s  %s\n", "PID", "GEN", "STATE", "AGE", "LIVE", "COMMAND");
	for (int i = 0; i < n; i++) {
		ms_reader r;
		ms_snapshot s;
		char live[32], command[MS_COMMAND_MAX * 4];
		int err = ms_reader_open(&r, list[i].path);

		if (err != 0) {
			printf("%8d %4u %-8s %10s %12s  (%s)\n", (int)list[i].pid, list[i].gen, "bad",
			       "-", "-", ms_reader_strerror(err));
			continue;
		}
		err = ms_snapshot_take(&r, &s);
		ms_reader_close(&r);
		if (err != 0) {
			printf("%8d %4u %-8s %10s %12s  (%s)\n", (int)list[i].pid, list[i].gen, "bad",
			       "-", "-", ms_reader_strerror(err));
			continue;
		}
		printf("%8d %4u %-8s %9.1fs %12s  %s\n", (int)s.pid, s.generation,
		       s.state == MS_SESSION_GONE ? "stale" : ms_session_state_name(s.state),
		       s.time_s, ms_format_bytes(live, sizeof(live), s.live_bytes),
		       ms_format_command(command, sizeof(command), s.command));
		if (clean && s.state != MS_SESSION_RUNNING && unlink(list[i].path) == 0)
			removed++;
		ms_snapshot_release(&s);
	}
	if (clean)
		printf("removed %d session%s\n", removed, removed == 1 ? "" : "s");
	free(list);
	return 0;
}
