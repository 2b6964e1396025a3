/*
 * A recording's program images and the program's time. memscope-top prints
 * each frame's time_s: seconds since the program image started. That is
 * the one time base of memscope-report, in what it prints and in what --at
 * reads. An exec starts a new image whose time starts again from 0, so a
 * time alone names a frame only within one image: --at takes the last
 * image unless given a generation.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memscope/grow.h>

/* The image of session `session`: frames of one image mostly come
 * together, so the last one found is tried first. */
static struct ms_report_image *find(struct ms_report_images *im, size_t session)
{
	if (im->n > 0 && im->v[im->n - 1].session == session)
		return &im->v[im->n - 1];
	for (size_t k = 0; k < im->n; k++)
		if (im->v[k].session == session)
			return &im->v[k];
	return NULL;
}

int ms_report_images(const ms_recording *r, struct ms_report_images *out)
{
	size_t n = ms_recording_count(r), cap = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		ms_rec_frame_info f;
		struct ms_report_image *g;

		if (ms_recording_frame_info(r, i, &f) != 0)
			continue;
		g = find(out, f.image);
		if (g == NULL) {
			if (out->n == cap) {
				struct ms_report_image *v = ms_grow(out->v, &cap, out->n + 1, sizeof(*v), 4);

				if (v == NULL) {
					ms_report_images_free(out);
					return -ENOMEM;
				}
				out->v = v;
			}
			g = &out->v[out->n++];
			*g = (struct ms_report_image){ .session = f.image, .generation = f.generation,
						       .first = i, .busiest = i,
						       .busiest_bytes = f.live_bytes };
		}
		g->last = i;
		g->nframes++;
		if (f.live_bytes > g->busiest_bytes) {
			g->busiest = i;
			g->busiest_bytes = f.live_bytes;
		}
		out->end = (size_t)(g - out->v);
	}
	return 0;
}

void ms_report_images_free(struct ms_report_images *im)
{
	free(im->v);
	memset(im, 0, sizeof(*im));
}

int ms_report_parse_at(const char *arg, struct ms_report_at *out)
{
	const char *colon = arg ? strchr(arg, ':') : NULL;
	char *end;

	memset(out, 0, sizeof(*out));
	if (arg == NULL)
		return -EINVAL;
	if (colon != NULL) {
		unsigned long g;

		if (arg[0] < '0' || arg[0] > '9')
			return -EINVAL;
		errno = 0;
		g = strtoul(arg, &end, 10);
		if (errno != 0 || end != colon || g > 0xffffffffUL)
			return -EINVAL;
		out->has_generation = 1;
		out->generation = (unsigned)g;
		arg = colon + 1;
	}
	errno = 0;
	out->seconds = strtod(arg, &end);
	if (end == arg || errno != 0 || *end != '\0' || !(out->seconds >= 0))
		return -EINVAL;
	out->given = 1;
	return 0;
}

int ms_report_frame_at(const ms_recording *r, const struct ms_report_images *im,
		       const struct ms_report_at *at, size_t *frame)
{
	const struct ms_report_image *g = im->n > 0 ? &im->v[im->end] : NULL;

	if (at->has_generation) {
		g = NULL;
		for (size_t k = 0; k < im->n; k++)
			if (im->v[k].generation == at->generation)
				g = &im->v[k];
	}
	if (g == NULL)
		return -ESRCH;
	/* Frames print their time to the millisecond: S as printed names
	 * the frame, though the file keeps microseconds. A scan, not a
	 * search: times only grow within an image, but the file is not
	 * trusted to say so. */
	*frame = g->first;
	for (size_t i = g->first; i <= g->last; i++) {
		ms_rec_frame_info f;

		if (ms_recording_frame_info(r, i, &f) == 0 && f.image == g->session &&
		    f.time_s <= at->seconds + 0.0005)
			*frame = i;
	}
	return 0;
}

const char *ms_report_when(char *buf, size_t len, const struct ms_report_images *im,
			   unsigned generation, double seconds)
{
	if (im->n > 1)
		snprintf(buf, len, "%.3fs of generation %u", seconds, generation);
	else
		snprintf(buf, len, "%.3fs", seconds);
	return buf;
}
