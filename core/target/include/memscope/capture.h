/*
 * The capture engine: turns heap operations into ms_events and hands them to
 * a capture backend, which applies them to the store. Backends implement
 * ms_backend_ops; the engine owns the store and the per-thread context.
 *
 * One engine is active per process (the hook has exactly one); tests may
 * open and close engines one after another.
 *
 * Runs: in the program: the hook path (recording operations), memscope's
 * own threads there (the sampler, a backend's drain), and its start, fork
 * and exit paths. Never reaches the hooked malloc.
 */
#ifndef MEMSCOPE_CAPTURE_H
#define MEMSCOPE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memscope/block.h>
#include <memscope/event.h>
#include <memscope/stacks.h>
#include <memscope/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ms_backend ms_backend;

/* A realloc's old block, between ms_capture_realloc_begin and _end. */
typedef struct ms_claim {
	uint64_t ptr;
	uint64_t size;
	uint32_t owner;
	uint32_t stack;
	uint64_t born; /* store time units, low MS_BLOCK_BORN_BITS */
	int found; /* 0: not a block this session counted */
	uint32_t note; /* the engine's: the block's annotation, if any */
} ms_claim;

/* A live block, as an annotation looks it up. */
typedef struct ms_block {
	uint64_t size;
	uint32_t stack;
	uint64_t born;
} ms_block;

/*
 * A capture backend: how the figures of each operation reach the store.
 * Every event carries all there is to know of its blocks (the engine reads
 * a freed block's header), so a backend keeps no table of blocks: it
 * decides only who applies the counts, when, and under what. Every
 * function but open/close runs on the hook path: it must not allocate
 * through malloc, must not block on anything a hooked thread may hold, and
 * must apply each event to the store exactly once.
 */
typedef struct ms_backend_ops {
	const char *name;
	/* Sets up be->state (from ms_pages_alloc). Returns 0 or -errno. */
	int (*open)(ms_backend *be);
	void (*close)(ms_backend *be);
	/* Applies a completed operation. */
	void (*record)(ms_backend *be, const ms_event *ev);
	/* Optional (NULL: nothing to do). A backend that applies events
	 * later: flush applies everything recorded so far; finish, at the
	 * exit path, does so and applies every later event at once. */
	void (*flush)(ms_backend *be);
	void (*finish)(ms_backend *be);
	/* Optional: the calling thread ends (its last events are recorded). */
	void (*thread_exit)(ms_backend *be);
	/* Optional: periodic upkeep, from the sampler thread (never the hook
	 * path); never waits for a lock a hooked thread may hold. */
	void (*maintain)(ms_backend *be);
	/* fork: prepare takes every lock, parent releases them; child resets
	 * them (the child's session starts empty). */
	void (*fork_prepare)(ms_backend *be);
	void (*fork_parent)(ms_backend *be);
	void (*fork_child)(ms_backend *be);
} ms_backend_ops;

struct ms_backend {
	const ms_backend_ops *ops;
	ms_store *store;
	void *state;
};

static inline void ms_backend_record(ms_backend *be, const ms_event *ev)
{
	be->ops->record(be, ev);
}

typedef struct ms_capture {
	ms_store store;
	ms_stacks stacks;
	ms_backend backend;
	uint32_t gen;        /* the session's block generation (memscope/block.h) */
	struct ms_stream *stream; /* the event stream; NULL when off */
	struct ms_notes *notes;   /* annotations (notes.c); NULL until the first */
	struct ms_maps *maps;     /* mapped memory (maps.c); NULL: not counted */
	char dir[MS_SESSION_DIR_MAX];
	pid_t keeper_pid;
} ms_capture;

/*
 * The program's mmap, munmap and mremap (the hook's, after it rounded the
 * lengths up to whole pages): real(ctx) makes the call, under the mapping
 * table's lock, and what it changed is counted apart from the heap (see
 * ms_store_count_map). mmap: counted (anonymous and private) with the
 * caller's stack; whatever the new mapping replaced ends. Without a table
 * (ms_capture_open could not make one) the calls are only made.
 */
void *ms_capture_mmap(ms_capture *c, uint64_t len, int counted, const uint64_t *frames,
		      uint32_t depth, void *(*real)(void *ctx), void *ctx);
int ms_capture_munmap(ms_capture *c, uint64_t addr, uint64_t len, int (*real)(void *ctx),
		      void *ctx);
void *ms_capture_mremap(ms_capture *c, uint64_t old, uint64_t old_len, uint64_t new_len,
			void *(*real)(void *ctx), void *ctx);

/* Set by the program that loads the engine (the hook): called first thing
 * in every thread a backend starts, so that the thread's own allocations
 * are not taken for the program's. */
extern void (*ms_capture_internal_thread)(void);

/* Creates the store in dir (see ms_store_create) and opens the backend.
 * Returns 0 or -errno. Not on the hook path. */
int ms_capture_open(ms_capture *c, const ms_backend_ops *ops, const char *dir, pid_t keeper_pid);

/* Starts the event stream (memscope/stream.h) on fd, a socket whose other
 * end belongs to process peer. Returns 0, or -EPROTOTYPE when fd is not
 * such a socket (it is then left alone), or -errno. */
int ms_capture_stream(ms_capture *c, int fd, pid_t peer);

/* Applies whatever the backend holds back (ops->flush): the store is then
 * up to date with every operation recorded so far. */
void ms_capture_flush(ms_capture *c);

/* Marks the session exited (ms_store_finish). Blocks stay tracked: the
 * process may go on freeing after this. */
void ms_capture_finish(ms_capture *c);

/* Closes the backend and unmaps the store; for tests. */
void ms_capture_close(ms_capture *c);

/* The calling thread's slot, claimed on first use. Hook path. */
uint32_t ms_capture_thread(ms_capture *c);

/*
 * Hook path: record an operation on a block with an in-band header
 * (memscope/block.h). user is the pointer the program sees; offset how far
 * before it the real block starts. frames/depth: the caller's stack,
 * innermost return address first (depth 0: none).
 *
 * ms_capture_alloc writes user's header and counts the block, after the
 * real call succeeded. ms_capture_free counts the end of the block whose
 * header read b, before the real free (a block of another session, or
 * made while the hook did not count, is an untracked free).
 * ms_capture_untracked_free counts the free of a block without a header
 * of ours. A realloc is begun before the real call (b: the old block's
 * header) and ended after it: new_user NULL means the call failed and the
 * old block is as it was.
 */
void ms_capture_alloc(ms_capture *c, void *user, size_t size, uint64_t offset,
		      const uint64_t *frames, uint32_t depth);
void ms_capture_free(ms_capture *c, void *user, const ms_block_info *b);
void ms_capture_untracked_free(ms_capture *c);
void ms_capture_realloc_begin(ms_capture *c, void *old_user, const ms_block_info *b,
			      ms_claim *claim);
void ms_capture_realloc_end(ms_capture *c, const ms_claim *claim, void *new_user, size_t size,
			    uint64_t offset, const uint64_t *frames, uint32_t depth);

/* The live block of this session at ptr, read from its header with a read
 * that cannot fault: 0, or -ENOENT. For annotations, not the malloc path. */
int ms_capture_lookup(ms_capture *c, const void *ptr, ms_block *out);
/* MS_OP_MOVE (old_ptr -> ptr: the annotation of one block goes to
 * another; both stay as they are), MS_OP_BORROW, MS_OP_RETURN. */
void ms_capture_annotate(ms_capture *c, ms_op op, void *ptr, void *old_ptr);

/*
 * Annotations (memscope.h), called by the program through the hook. Not
 * the malloc path: they take a lock of their own.
 */
/* Names the live block at ptr: variable var, type type, and the calling
 * thread's innermost open scope. Again on the same block: renamed. A block
 * the backend does not know is left alone. */
void ms_capture_track(ms_capture *c, const void *ptr, const char *var, const char *type);
/* The calling thread opens and closes a scope (MS_SCOPE); scopes nest. */
void ms_capture_scope_enter(const char *name);
void ms_capture_scope_leave(void);

/* Sampler: periodic upkeep of the engine's indexes. */
void ms_capture_maintain(ms_capture *c);

/* Sampler: the leak scan. Counts, per call site, the live blocks older than
 * each of MS_STORE_AGE_TICKS (from the store's births by time window) and
 * publishes the sums. */
void ms_capture_scan_ages(ms_capture *c);

/* fork handlers, in pthread_atfork order. The child one creates the child's
 * own session. */
void ms_capture_fork_prepare(ms_capture *c);
void ms_capture_fork_parent(ms_capture *c);
int ms_capture_fork_child(ms_capture *c);

#ifdef __cplusplus
}
#endif

#endif
