/* The recording format's constants and its encoding helpers, shared by
 * record_write.c and record_read.c. Private to core/recording; RECORDING.md
 * is the format's description.
 *
 * Runs: readers only. */
#ifndef MEMSCOPE_RECORD_FORMAT_H
#define MEMSCOPE_RECORD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <memscope/snapshot.h>

struct ms_thread_view; /* memscope/recording.h */

#ifdef __cplusplus
extern "C" {
#endif

#define MS_REC_MAGIC "MSREC\r\n\x1a"
/* The version written, and the oldest the reader still reads (what each
 * version added: RECORDING.md). */
#define MS_REC_VERSION 5u
#define MS_REC_VERSION_OLDEST 4u
/* Frames have their inlined flag. */
#define MS_REC_SINCE_INLINED 5u
/* Heads have temporaries and mapped memory, call sites temporaries and a
 * kind, the index's frames mapped bytes (ms_rec_head_fields and
 * ms_rec_site_fields give the counts a version has). */
#define MS_REC_SINCE_MMAP 5u
#define MS_REC_HEADER 16u
#define MS_REC_CHUNK_HEADER 12u
#define MS_REC_MAX_CHUNK (64u << 20)
#define MS_REC_MAX_STRING 65536u
#define MS_REC_KEY_EVERY 64u
/* An events chunk's columns (RECORDING.md, "The event stream"). */
enum {
	MS_REC_COL_TAG,
	MS_REC_COL_SEQ,
	MS_REC_COL_TIME,
	MS_REC_COL_THREAD,
	MS_REC_COL_FREE_REF, /* a free: how many allocations back its block was made */
	MS_REC_COL_ALLOC_REF, /* an allocation: how many frees back its address was freed */
	MS_REC_COL_ADDRESS,  /* addresses neither reference gives */
	MS_REC_COL_SIZE,
	MS_REC_COL_STACK,
	MS_REC_EVENT_COLUMNS
};
/* Events a chunk holds at most, and the frees an allocation may refer to. */
#define MS_REC_CHUNK_EVENTS 65536u
#define MS_REC_FREED_RING 256u

/* Chunk encodings. */
enum {
	MS_REC_RAW = 0,
	MS_REC_ZSTD = 1,
};

enum {
	MS_REC_SESSION = 1,
	MS_REC_STRINGS = 2,
	MS_REC_FRAMES = 3,
	MS_REC_STACKS = 4,
	MS_REC_FRAME = 5,
	MS_REC_END = 6,
	MS_REC_EVENTS = 7,
	MS_REC_INDEX = 8,
};

/* Flags of a session chunk (RECORDING.md). */
#define MS_REC_SESSION_PYMALLOC 1u /* CPython with its own allocator */

/*
 * A frame's head: one varint per field, in this order (RECORDING.md, "A
 * frame"). ms_rec_head_put and ms_rec_head_get turn a snapshot into these
 * fields and back by one table (record_format.c), so the writer and the
 * reader cannot disagree on a field's place or unit. Key and session are
 * the writer's own: neither function touches them.
 */
enum ms_rec_head_field {
	MS_REC_HEAD_KEY,         /* 1: the full state follows */
	MS_REC_HEAD_SESSION,     /* session chunks before it, less one */
	MS_REC_HEAD_TIME,        /* µs since the image started */
	MS_REC_HEAD_STATE,
	MS_REC_HEAD_EXIT,        /* exit status + 1; 0: unknown */
	MS_REC_HEAD_LIVE_BYTES,
	MS_REC_HEAD_LIVE_ALLOCS,
	MS_REC_HEAD_PEAK_BYTES,
	MS_REC_HEAD_PEAK_TIME,   /* µs */
	MS_REC_HEAD_ALLOCS,
	MS_REC_HEAD_FREES,
	MS_REC_HEAD_REALLOCS,
	MS_REC_HEAD_BYTES,       /* allocated, all told */
	MS_REC_HEAD_RSS,
	MS_REC_HEAD_CPU,         /* the program's, per mille of a core */
	MS_REC_HEAD_DROPPED,
	MS_REC_HEAD_UNTRACKED,
	MS_REC_HEAD_OVERFLOWED,  /* threads folded into the shared slot */
	MS_REC_HEAD_AGES_SCANNED, /* 0/1 */
	MS_REC_HEAD_THREADS,     /* the process's thread count */
	MS_REC_HEAD_OWN_CPU,     /* memscope's threads', per mille (version 4) */
	MS_REC_HEAD_TEMPORARY,   /* temporaries freed, all told (version 5) */
	MS_REC_HEAD_MMAP_LIVE,   /* mapped bytes live (version 5) */
	MS_REC_HEAD_MMAP_PEAK,
	MS_REC_HEAD_MMAP_MAPS,   /* mappings made, all told */
	MS_REC_HEAD_FIELDS
};

/* The head fields a file of this version has (the rest read as 0). */
static inline int ms_rec_head_fields(uint32_t version)
{
	return version >= MS_REC_SINCE_MMAP ? MS_REC_HEAD_FIELDS : MS_REC_HEAD_TEMPORARY;
}

void ms_rec_head_put(uint64_t v[MS_REC_HEAD_FIELDS], const ms_snapshot *s, int exit_status);
void ms_rec_head_get(const uint64_t v[MS_REC_HEAD_FIELDS], ms_snapshot *s, int *exit_status);

/*
 * A thread in a frame, after its index, tid and name (string id): these
 * fields, in this order, one varint each (RECORDING.md). put: view NULL
 * for a thread not on screen. get: every value decodes to a valid one.
 */
enum ms_rec_thread_field {
	MS_REC_THREAD_EXITED, /* 0/1 */
	MS_REC_THREAD_ALLOCS,
	MS_REC_THREAD_FREES,
	MS_REC_THREAD_ALLOC_BYTES,
	MS_REC_THREAD_FREE_BYTES,
	MS_REC_THREAD_LIVE_BYTES,
	MS_REC_THREAD_LIVE_ALLOCS,
	MS_REC_THREAD_STATE,  /* an ASCII letter from /proc, 'X' gone, '-' not known */
	MS_REC_THREAD_CPU,    /* thousandths of a percent */
	MS_REC_THREAD_ALLOC_RATE, /* a second */
	MS_REC_THREAD_FREE_RATE,
	MS_REC_THREAD_FIELDS
};

void ms_rec_thread_put(uint64_t v[MS_REC_THREAD_FIELDS], const ms_thread_info *t,
		       const struct ms_thread_view *view);
void ms_rec_thread_get(const uint64_t v[MS_REC_THREAD_FIELDS], ms_thread_info *t,
		       struct ms_thread_view *view);

/*
 * A call site in a frame, after its stack id: these figures, in this
 * order, each written as the zigzag change from the site's figure in the
 * frame before (RECORDING.md). get fails (-1) on a lifetime beyond
 * MS_REC_MAX_LIFE_NS or a kind that is none; live figures are derived.
 */
enum ms_rec_site_field {
	MS_REC_SITE_ALLOCS,
	MS_REC_SITE_FREES,
	MS_REC_SITE_ALLOC_BYTES,
	MS_REC_SITE_FREE_BYTES,
	MS_REC_SITE_PEAK,
	MS_REC_SITE_OLD, /* per age: live bytes, then blocks, older than it */
	MS_REC_SITE_LIFE = MS_REC_SITE_OLD + 2 * MS_STORE_AGES, /* min, median, max */
	MS_REC_SITE_TEMPORARY = MS_REC_SITE_LIFE + 3, /* version 5 */
	MS_REC_SITE_KIND, /* an ms_site_kind (version 5) */
	MS_REC_SITE_FIELDS
};

/* The call-site fields a file of this version has (the rest read as 0). */
static inline int ms_rec_site_fields(uint32_t version)
{
	return version >= MS_REC_SINCE_MMAP ? MS_REC_SITE_FIELDS : MS_REC_SITE_TEMPORARY;
}

void ms_rec_site_put(uint64_t v[MS_REC_SITE_FIELDS], const ms_site_info *s);
int ms_rec_site_get(const uint64_t v[MS_REC_SITE_FIELDS], ms_site_info *s);

/*
 * An annotated block in a frame, after its variable, type and scope names
 * (string ids): these fields, in this order, one varint each.
 */
enum ms_rec_note_field {
	MS_REC_NOTE_PTR,
	MS_REC_NOTE_SIZE,
	MS_REC_NOTE_LIVE,     /* 0/1 */
	MS_REC_NOTE_BORROWS,
	MS_REC_NOTE_LENT,
	MS_REC_NOTE_TRACKED,  /* µs since the image started */
	MS_REC_NOTE_LIFETIME, /* ns + 1 (ms_rec_life) */
	MS_REC_NOTE_FIELDS
};

void ms_rec_note_put(uint64_t v[MS_REC_NOTE_FIELDS], const ms_note_info *n);
void ms_rec_note_get(const uint64_t v[MS_REC_NOTE_FIELDS], ms_note_info *n);

/* Seconds as the file's µs (rounded; 0 for none or negative). */
uint64_t ms_rec_us(double seconds);

/* A lifetime as the file keeps it: ns + 1, 0 for none (negative), at most
 * MS_REC_MAX_LIFE_NS (about 52 days: a double holds it to the ns up to
 * about half that; the reader keeps the file's integers, which it applies
 * a frame's changes to). */
#define MS_REC_MAX_LIFE_NS (1ull << 52)
uint64_t ms_rec_life(double seconds);
/* ... and back: seconds, or -1 for none. */
double ms_rec_life_s(uint64_t v);

uint32_t ms_crc32c(uint32_t crc, const void *data, size_t len);

/* A growing output buffer. On allocation failure it stays marked failed
 * and further puts do nothing. */
struct ms_buf {
	unsigned char *data;
	size_t len, cap;
	int failed;
};

void ms_buf_put_varint(struct ms_buf *b, uint64_t v);
void ms_buf_put_bytes(struct ms_buf *b, const void *p, size_t n);
void ms_buf_put_string(struct ms_buf *b, const char *s);
void ms_buf_free(struct ms_buf *b);

/* A bounded input cursor. Any read past the end or malformed value sets
 * bad, after which every read returns 0. */
struct ms_cursor {
	const unsigned char *p, *end;
	int bad;
};

uint64_t ms_cur_varint(struct ms_cursor *c);
/* A string into buf (NUL-terminated, truncated to fit). */
void ms_cur_string(struct ms_cursor *c, char *buf, size_t len);
/* A count of items each at least min_bytes long: bounded by what is left. */
uint64_t ms_cur_count(struct ms_cursor *c, size_t min_bytes);

#ifdef __cplusplus
}
#endif

#endif
