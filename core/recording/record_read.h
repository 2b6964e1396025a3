/*
 * What the recording reader's files (record_read.c: opening, the index and
 * queries; record_read_events.c: the event stream; record_replay.c:
 * rebuilding frames) share. Private to core/recording.
 *
 * Runs: readers only.
 */
#ifndef MEMSCOPE_RECORD_READ_H
#define MEMSCOPE_RECORD_READ_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include <memscope/grow.h>
#include <memscope/recording.h>

#include "record_format.h"

struct session {
	pid_t pid;
	unsigned generation;
	uint64_t start_real_ns;
	char command[MS_COMMAND_MAX];
	uint64_t flags; /* MS_REC_SESSION_* */
};

struct frame_ref {
	uint64_t offset; /* of the payload */
	uint32_t length; /* as stored */
	int packed;      /* zstd */
	int key;
	uint64_t session;
	uint64_t time_us;
	size_t key_index; /* the key frame this one is rebuilt from */
	/* For the graph: */
	uint64_t live_bytes, rss_bytes, total_allocs, total_frees, total_bytes, live_allocs;
	uint64_t mmap_bytes;
};

struct events_ref {
	uint64_t offset; /* of the payload */
	uint32_t length; /* as stored */
	int packed;
	size_t count;
};

struct stack {
	uint32_t depth;
	const ms_frame **frames;
	const ms_frame *top;
};

struct ms_recording {
	int fd;
	uint32_t version; /* the file's format version */
	ZSTD_DCtx *zstd;
	/* The events columns' zstd streams (record_write.c), read from the
	 * first events chunk on; streams_at: the events chunks they have
	 * read. */
	ZSTD_DCtx *columns[MS_REC_EVENT_COLUMNS];
	size_t streams_at;
	char problem[160];
	int clean_end;
	char **strings;
	size_t nstrings;
	ms_frame *frames;
	size_t nframes;
	struct stack *stacks;
	size_t nstacks;
	struct session *sessions;
	size_t nsessions;
	struct frame_ref *refs;
	size_t nrefs;
	struct events_ref *events;
	size_t nevents_refs, nevents;
};

struct caps {
	size_t strings, frames, stacks, sessions, refs, events;
};

/* ms_grow for the reader's arrays: 0, or -ENOMEM with *array as it was. */
int rec_grow(void **array, size_t *cap, size_t need, size_t elem);

/* A string id+1 from the file: NULL for 0, else the string (or bad). */
const char *rec_string_ref(ms_recording *r, struct ms_cursor *c);

/* A chunk's payload as stored at offset, decompressed; the caller frees
 * *out. */
int rec_load_payload(ms_recording *r, uint64_t offset, uint32_t length, int packed,
		     unsigned char **out, uint32_t *len);

/* A zigzag varint's value as the signed change it stands for, modulo 2^64. */
uint64_t rec_unzigzag(uint64_t v);

/* Back to the start of the events columns' streams. */
int rec_rewind_columns(ms_recording *r);

/* Decodes the next events chunk of the file (the columns' streams go in
 * file order) into out (NULL: only checks it), which has room for max.
 * nstacks: the stacks the dictionary had before the chunk. Returns the
 * count or -1. */
long rec_decode_events(ms_recording *r, struct ms_cursor *c, size_t nstacks,
		       ms_rec_event *out, size_t max);

/* Notes an events chunk in the recording's list: its place and count. */
int rec_note_events(ms_recording *r, struct caps *cap, uint64_t session, uint64_t count,
		    uint64_t offset, uint32_t length, int packed);

/* An events chunk read whole: checked by decoding, when the columns'
 * streams have read every events chunk before it (the index let opening
 * skip some: then only its head is read). */
int rec_read_events(ms_recording *r, struct caps *cap, struct ms_cursor *c, uint64_t offset,
		    uint32_t length, int packed);

#endif
