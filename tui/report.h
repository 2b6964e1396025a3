/* memscope-report: summaries of recordings. */
#ifndef MEMSCOPE_TUI_REPORT_H
#define MEMSCOPE_TUI_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <memscope/recording.h>

int ms_report_run(int argc, char **argv);

/* --- report_images.c: a recording's program images and their times ----- */

/* A program image of a recording (a new one at each exec) and its frames.
 * Its times are its own: seconds since it started, the frames' time_s. */
struct ms_report_image {
	size_t session; /* ms_rec_frame_info.image */
	unsigned generation;
	size_t first, last, nframes;
	size_t busiest; /* its first frame with the most live bytes */
	uint64_t busiest_bytes;
};

struct ms_report_images {
	struct ms_report_image *v; /* in the order their first frames come */
	size_t n;
	size_t end; /* the image of the recording's last frame */
};

/* Finds the images of r's frames. Returns 0 or -ENOMEM. */
int ms_report_images(const ms_recording *r, struct ms_report_images *out);
void ms_report_images_free(struct ms_report_images *im);

/* --at [GEN:]SECONDS */
struct ms_report_at {
	int given;
	int has_generation;
	unsigned generation;
	double seconds;
};

/* Parses --at's argument (NULL: missing). Returns 0 or -EINVAL. */
int ms_report_parse_at(const char *arg, struct ms_report_at *out);

/* The frame `at` names: in the image of its generation (the last such), or
 * in the last frame's image without one, the last frame at or before its
 * seconds (the image's first for an earlier time). Returns 0, or -ESRCH
 * when no image has that generation. */
int ms_report_frame_at(const ms_recording *r, const struct ms_report_images *im,
		       const struct ms_report_at *at, size_t *frame);

/* "1.234s", and " of generation G" after it when the recording holds
 * more than one image. Returns buf. */
const char *ms_report_when(char *buf, size_t len, const struct ms_report_images *im,
			   unsigned generation, double seconds);

/* --events: the event stream's analysis on stdout. top: call sites shown
 * (0: all). Returns the exit status. */
int ms_report_events(ms_recording *r, long top);

#endif
