/*
 * The event stream: every heap operation of a process, one by one, for a
 * recorder that asked for them (memscope-top -w FILE --events). Off unless
 * the launcher hands the hook a socket.
 *
 * Transport. A SOCK_SEQPACKET socket pair: the launcher keeps one end, the
 * target's hook writes to the other. Each thread fills a buffer of its own
 * and sends it as one message (a message arrives whole or not at all, so
 * threads never interleave inside one). When the recorder falls behind the
 * socket fills and the hook waits: nothing is dropped, the program only
 * slows down. When the recorder is gone the send fails and the stream
 * stops; the program runs on.
 *
 * Order. Threads flush independently, so messages arrive out of order.
 * Every event carries a number from one process-wide counter, taken after a
 * block is obtained and before it is given back: for any one address the
 * numbers follow the real order of its allocations and frees.
 *
 * Runs: the format is shared: the hook path writes it (core/target/stream.c),
 * memscope-top reads it (core/recording).
 */
#ifndef MEMSCOPE_STREAM_H
#define MEMSCOPE_STREAM_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_STREAM_MAGIC 0x5645534du /* "MSEV" */
#define MS_STREAM_VERSION 1u
/* Events per message at most. */
#define MS_STREAM_BATCH 256u
/* The launcher passes its socket's number in this environment variable. */
#define MS_STREAM_ENV "MEMSCOPE_EVENTS_FD"

enum {
	MS_STREAM_ALLOC = 1, /* ptr, size, stack: a block obtained */
	MS_STREAM_FREE = 2,  /* ptr: a block given back (or one never seen) */
};

/* Event flags. */
enum {
	MS_STREAM_REALLOC = 1, /* half of a realloc: the old block's free, or the new block */
	MS_STREAM_RESTORE = 2, /* a failed realloc: its old block stays live after all */
};

struct ms_stream_head {
	uint32_t magic;
	uint16_t version;
	uint16_t count; /* events that follow, 1..MS_STREAM_BATCH */
	uint32_t pid;
	uint32_t generation;
};

struct ms_stream_event {
	uint64_t seq;
	uint64_t time_ns; /* since the image's session started */
	uint64_t ptr;
	uint64_t size;
	uint32_t stack; /* the store's stack id */
	uint32_t thread; /* the store's thread slot */
	uint8_t op;
	uint8_t flags;
	uint8_t pad[6];
};

#ifdef __cplusplus
}
#endif

#endif
