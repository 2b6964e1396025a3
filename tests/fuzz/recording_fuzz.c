/*
 * libFuzzer target for the recording reader: any bytes, opened as a
 * recording, must give an error or a recording whose every frame (and
 * event) loads or is refused: never a crash, a leak or a hang. tests/run builds it with
 * clang (-fsanitize=fuzzer,address,undefined) and runs it for a bounded
 * time from a seed recording.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memscope/recording.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	ms_recording *r;
	int fd = memfd_create("recording", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ms_recording_open(path, &r) == 0) {
		size_t n = ms_recording_count(r);
		ms_rec_frame_info info;

		for (size_t i = 0; i < n; i++)
			if (ms_recording_frame_info(r, i, &info) != 0)
				__builtin_trap(); /* every frame counted has its head */
		for (size_t i = 0; i < n; i += 1 + n / 8) {
			ms_replay f;

			if (ms_recording_load(r, i, &f) == 0)
				ms_replay_release(&f);
		}
		if (ms_recording_event_count(r) > 0) {
			ms_rec_event *ev;
			size_t nev;
			ms_callsite cs;

			if (ms_recording_events(r, &ev, &nev) == 0) {
				for (size_t i = 0; i < nev; i++)
					if (ev[i].stack != MS_REC_NO_STACK &&
					    ms_recording_stack(r, ev[i].stack, &cs) != 0)
						__builtin_trap(); /* the reader let a bad id through */
				free(ev);
			}
		}
		ms_recording_problem(r);
		ms_recording_peak_frame(r);
		ms_recording_close(r);
	}
	close(fd);
	return 0;
}
