/*
 * record_seek [FRAMES] [SITES]: the recording format against its targets.
 * Writes a synthetic recording of FRAMES frames (default 36,000: an hour at
 * 10 refreshes a second) of a program with SITES call sites (default
 * 2,000, a tenth of them changing each frame), then times opening it and
 * loading 200 frames picked at random, and prints the file's size.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <memscope/recording.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t frames = argc > 1 ? strtoul(argv[1], NULL, 10) : 36000;
	size_t nsites = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	char path[] = "/tmp/memscope-seek-XXXXXX";
	ms_frame *f = calloc(nsites * 2, sizeof(*f));
	const ms_frame **stacks = calloc(nsites * 2, sizeof(*stacks));
	ms_callsite *sites = calloc(nsites, sizeof(*sites));
	ms_thread_info threads[4] = { { 0 } };
	char names[4096];
	ms_snapshot s = { 0 };
	ms_recorder *rec;
	ms_recording *r;
	struct stat st;
	double t0, open_s, worst = 0, sum = 0;
	int fd = mkstemp(path);

	if (fd < 0 || f == NULL || stacks == NULL || sites == NULL)
		return 1;
	close(fd);
	for (size_t i = 0; i < nsites; i++) {
		snprintf(names, sizeof(names), "function_%zu", i);
		f[2 * i] = (ms_frame){ 0x1000 + i * 32, strdup(names), "src/file.c", (int)i, "/bin/app",
				       i * 32, 0, 0 };
		f[2 * i + 1] = (ms_frame){ 0x900000, "main", "src/main.c", 1, "/bin/app", 0x100, 0, 0 };
		stacks[2 * i] = &f[2 * i];
		stacks[2 * i + 1] = &f[2 * i + 1];
		sites[i].site.stack = (uint32_t)i + 1;
		sites[i].depth = 2;
		sites[i].frames = &stacks[2 * i];
		sites[i].top = &f[2 * i];
	}
	for (int t = 0; t < 4; t++) {
		threads[t].tid = 1000 + t;
		snprintf(threads[t].name, sizeof(threads[t].name), "worker-%d", t);
	}
	s.pid = 1000;
	strcpy(s.command, "synthetic");
	s.threads = threads;
	s.nthreads = 4;
	if (ms_recorder_create(path, &rec) != 0)
		return 1;
	t0 = now();
	for (size_t k = 0; k < frames; k++) {
		s.time_s = (double)k / 10;
		for (size_t i = k % 10; i < nsites; i += 10) {
			ms_site_info *si = &sites[i].site;

			si->allocs += 3;
			si->frees += 2;
			si->alloc_bytes += 96;
			si->free_bytes += 64;
			si->live_bytes = si->alloc_bytes - si->free_bytes;
			si->peak_bytes = si->live_bytes;
		}
		threads[k % 4].allocs += 1000;
		s.total_allocs += 4000;
		s.live_bytes = 1000000 + k;
		s.peak_bytes = s.live_bytes;
		if (ms_recorder_frame(rec, &s, NULL, sites, nsites, -1) != 0)
			return 1;
	}
	ms_recorder_close(rec);
	printf("wrote %zu frames of %zu call sites in %.2fs\n", frames, nsites, now() - t0);
	stat(path, &st);
	t0 = now();
	if (ms_recording_open(path, &r) != 0)
		return 1;
	open_s = now() - t0;
	srand(1);
	for (int i = 0; i < 200; i++) {
		size_t k = (size_t)rand() % frames;
		ms_replay rp;
		double d;

		t0 = now();
		if (ms_recording_load(r, k, &rp) != 0)
			return 1;
		d = now() - t0;
		ms_replay_release(&rp);
		sum += d;
		if (d > worst)
			worst = d;
	}
	printf("file %.1f MiB (%.0f bytes a frame); open %.0f ms; seek: mean %.1f ms, worst %.1f ms\n",
	       (double)st.st_size / (1 << 20), (double)st.st_size / (double)frames, open_s * 1e3,
	       sum / 200 * 1e3, worst * 1e3);
	ms_recording_close(r);
	unlink(path);
	return 0;
}
