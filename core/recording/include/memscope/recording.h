/*
 * Recordings: what memscope-top saw, frame by frame, in a file that replays
 * without the program or its binaries. The format is described in
 * core/recording/RECORDING.md.
 *
 * Runs: readers only (memscope-top, memscope-report), never in the program.
 */
#ifndef MEMSCOPE_RECORDING_H
#define MEMSCOPE_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include <memscope/snapshot.h>
#include <memscope/stream.h>
#include <memscope/symbols.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the screen shows of a thread beyond the store's figures: from /proc
 * (state, CPU) and from the frame before (rates). Recorded so that a
 * replay shows the thread table as it was. */
typedef struct ms_thread_view {
	char state; /* R, S, D, ...; 'X' once gone; '-' not known */
	double cpu_percent;
	double allocs_per_s, frees_per_s;
} ms_thread_view;

/* --- writing ------------------------------------------------------------ */

typedef struct ms_recorder ms_recorder;

/* Creates (or truncates) path and writes the file header. Returns 0 or
 * -errno. */
int ms_recorder_create(const char *path, ms_recorder **out);

/* Appends a frame: the snapshot, its threads' views (one per s->threads;
 * NULL: not known) and its call sites (as ms_symbols_callsites gives them;
 * their frames are stored once). exit_status: the program's, when known;
 * else -1. Each chunk is written whole with one write, so a recorder
 * killed at any point leaves a file readable up to its last frame.
 * Returns 0 or -errno. */
int ms_recorder_frame(ms_recorder *rec, const ms_snapshot *s, const ms_thread_view *views,
		      const ms_callsite *sites, size_t nsites, int exit_status);

/* Appends events of the event stream (memscope/stream.h) of image
 * pid/generation, in any order (ev is sorted in place). Call it after the
 * frame of a snapshot taken after the events were sent: the events' call
 * sites are then in the recording's dictionary (for an image other than the
 * current one they are recorded without). Returns 0, -ESRCH for an image
 * with no frame yet, or -errno. */
int ms_recorder_events(ms_recorder *rec, uint32_t pid, uint32_t generation,
		       struct ms_stream_event *ev, size_t n);

/* Marks the end and closes. Returns 0 or -errno. */
int ms_recorder_close(ms_recorder *rec);

/* --- reading ------------------------------------------------------------ */

#define MS_REC_ERR_NOT_RECORDING (-2001)
#define MS_REC_ERR_VERSION (-2002)
#define MS_REC_ERR_EMPTY (-2003)
#define MS_REC_ERR_DAMAGED (-2004)

typedef struct ms_recording ms_recording;

/* Opens path and checks it through (every chunk's checksum, every
 * dictionary entry). A file cut short or damaged after some frames opens:
 * see ms_recording_problem. Returns 0 or a negative error (-errno or
 * MS_REC_ERR_*). */
int ms_recording_open(const char *path, ms_recording **out);
void ms_recording_close(ms_recording *r);
const char *ms_recording_strerror(int err);

/* NULL for a recording that ends as its recorder closed it; else one line
 * saying why it stops where it does ("cut short", a damaged chunk). */
const char *ms_recording_problem(const ms_recording *r);

size_t ms_recording_count(const ms_recording *r);
/* Seconds since the first frame, continuous across execs (by the images'
 * start times): the replay's time bar. Not the program's time: see
 * ms_recording_frame_info. */
double ms_recording_time(const ms_recording *r, size_t i);

/* The last frame at or before `seconds` from the first (the first frame
 * for earlier times), in ms_recording_time's terms. */
size_t ms_recording_frame_at(const ms_recording *r, double seconds);

/* Frame i in the program's own terms, as memscope-top printed it, without
 * rebuilding the frame. */
typedef struct ms_rec_frame_info {
	size_t image;        /* its program image: the index of its session among the
				recording's (a new one at each exec) */
	unsigned generation; /* that image's, as in the frame */
	double time_s;       /* seconds since that image started: the frame's time_s */
	uint64_t live_bytes;
} ms_rec_frame_info;

/* Fills *out for frame i. Returns 0, or -EINVAL for i out of range. */
int ms_recording_frame_info(const ms_recording *r, size_t i, ms_rec_frame_info *out);

/* The first frame with the highest live heap of the recording. */
size_t ms_recording_peak_frame(const ms_recording *r);

/* A frame rebuilt: its snapshot (samples: the frames of its image so far,
 * thinned out to at most 2048) and its call sites, unsorted. */
typedef struct ms_replay {
	ms_snapshot snap;
	ms_thread_view *views; /* one per snap.threads */
	ms_callsite *sites;
	size_t nsites;
	int exit_status;
} ms_replay;

/* --- the event stream (memscope-top -w FILE --events) ------------------ */

#define MS_REC_NO_STACK UINT32_MAX

typedef struct ms_rec_event {
	uint64_t seq;     /* the process's own order of operations */
	uint64_t time_ms; /* since the image started (the stream's resolution) */
	uint64_t ptr;
	uint64_t size;    /* MS_STREAM_ALLOC only */
	uint32_t stack;   /* the recording's stack id, or MS_REC_NO_STACK */
	uint32_t thread;  /* the thread's slot: its index in the image's thread list */
	uint32_t session; /* index of the image among the recording's */
	uint8_t op;       /* MS_STREAM_ALLOC, MS_STREAM_FREE */
	uint8_t flags;    /* MS_STREAM_REALLOC, MS_STREAM_RESTORE */
} ms_rec_event;

/* How many events the recording holds (0: recorded without --events). */
size_t ms_recording_event_count(const ms_recording *r);

/* Every event, in the order the program made them (by image, then seq).
 * *out is malloc'ed. Returns 0 or a negative error. */
int ms_recording_events(ms_recording *r, ms_rec_event **out, size_t *n);

/* Call site id of the recording as an ms_callsite (figures zero); its
 * frames live as long as the recording. Returns 0 or -EINVAL. */
int ms_recording_stack(const ms_recording *r, uint32_t id, ms_callsite *out);

/* Rebuilds frame i. Returns 0 or a negative error. */
int ms_recording_load(ms_recording *r, size_t i, ms_replay *out);
void ms_replay_release(ms_replay *f);

#ifdef __cplusplus
}
#endif

#endif
