/*
 * What the recorder's files (record_write.c: the file, its dictionaries and
 * chunks; record_write_frame.c: frames; record_write_events.c: the event
 * stream) share. Private to core/recording.
 *
 * Runs: readers only.
 */
#ifndef MEMSCOPE_RECORD_WRITE_H
#define MEMSCOPE_RECORD_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include <memscope/grow.h>
#include <memscope/recording.h>

#include "record_format.h"

/* An open-addressing map from a key (a string's hash and text, or a
 * pointer) to the recording's id for it. */
struct slot {
	uint64_t hash;
	const void *key; /* the string's copy, or the frame pointer */
	uint32_t id;
	int used;
};

struct map {
	struct slot *slots;
	size_t cap, count;
};

/* A call site as it was last written: its figures as the file has them. */
struct site_mark {
	int present;
	uint64_t key; /* the key frame it was last written after */
	uint64_t v[MS_REC_SITE_FIELDS];
};

/* A thread as the previous frame recorded it: its tid and name (info),
 * and its figures and view as the file has them. */
struct thread_mark {
	ms_thread_info info;
	uint64_t v[MS_REC_THREAD_FIELDS];
};

struct ms_recorder {
	int fd;
	ZSTD_CCtx *zstd; /* one context for every chunk */
	/* Each events column is one zstd stream through the whole file,
	 * flushed at every chunk: a chunk's column can refer to what earlier
	 * chunks held (a program's patterns repeat). Made on first use. */
	ZSTD_CCtx *columns[MS_REC_EVENT_COLUMNS];
	int failed;
	struct map strings, frames;
	uint32_t nstrings, nframes, nstacks;
	/* This image's stack ids -> the recording's. */
	uint32_t *stack_ids;
	size_t nstack_ids;
	/* By the recording's stack id: the frames array it was last written
	 * with. */
	const void **written;
	size_t cwritten;
	/* The session (image) being recorded. */
	pid_t pid;
	unsigned generation;
	uint64_t sessions;
	int in_session;
	struct session_id {
		pid_t pid;
		unsigned generation;
	} *session_ids; /* every image recorded, in order */
	size_t nsession_ids;
	/* The previous frame, for deltas. */
	unsigned since_key;
	uint64_t keys; /* key frames written */
	struct thread_mark *threads;
	size_t nthreads;
	struct site_mark *marks; /* by the recording's stack id */
	size_t nmarks;
	/* Where the next chunk goes, and the index of frames and events
	 * written so far (RECORDING.md, "Index"). */
	uint64_t offset, indexed_at;
	struct ms_buf index;
	uint64_t nindex;
	/* Pending dictionary entries for the next frame. */
	struct ms_buf strings_out, frames_out, stacks_out;
	uint32_t strings_new, frames_new, stacks_new;
};

/* A change as a varint-friendly number: small either way. */
static inline uint64_t zigzag(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - from);

	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

/* A pointer's hash, for the frames map (a frame is known by its address). */
static inline uint64_t hash_pointer(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* The recording's id for a string (id + 1; 0 for NULL), queued if new. */
uint64_t rec_string_id(ms_recorder *rec, const char *s);

/* The recording's id of the image's stack of call site c, queued if new,
 * or again (same id) when its frames changed since: symbols come after a
 * stack is first seen (memscope/symbols.h), and a frames array, once made,
 * never changes, so a new array is what tells. */
uint32_t rec_stack_id(ms_recorder *rec, const ms_callsite *c);

/* One chunk, written with one write: header, checksum, payload (zstd
 * compressed when that makes it smaller). note: for frames and events,
 * what the index says of the chunk; NULL for others. */
int rec_write_chunk_noted(ms_recorder *rec, int type, const struct ms_buf *payload,
			  const struct ms_buf *note, int compress);

/* A chunk with no index note, compressed when that pays. */
int rec_write_chunk(ms_recorder *rec, int type, const struct ms_buf *payload);

/* A session chunk for the image s is of: what follows is about it, and the
 * next frame is a key frame. */
int rec_start_session(ms_recorder *rec, const ms_snapshot *s);

#endif
