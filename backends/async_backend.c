/*
 * The "async" backend: the program's threads only append their operations
 * to rings of their own; one drain thread applies them to the live-pointer
 * table and the store. The hot path has no lock and no shared cache line:
 * a plain store of the event and a release store of the ring's tail.
 *
 * Order. Each event carries a time stamp (the CPU's time stamp counter),
 * and the drain applies all rings' events merged in stamp order: the order
 * the program made them in, so the peak it sees is the program's. A thread
 * stamps and appends an allocation before malloc returns the block, and a
 * free before the real free, so a block's free always has a later stamp
 * than its allocation. Every event carries what there is to know of its
 * block (the engine read the block's header), so nothing is looked up and
 * no event ever waits for another.
 *
 * A full ring makes its thread wait for the drain: nothing is dropped. At
 * exit (flush), the rings are drained and later operations are applied by
 * the threads themselves under the drain's lock, as the process may go on
 * freeing after the last chance to drain.
 *
 * The "unified" backend is this one with a rule per thread (at WINDOW): a
 * thread applies its own events in place, under the drain's lock, until it
 * is busy enough for a ring; and while the program has one thread (solo
 * mode, memscope/store.h), in place without the lock.
 */
#define _GNU_SOURCE
#include <memscope/backends.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <memscope/atomic.h>
#include <memscope/own_threads.h>
#include <memscope/platform.h>

#define MS_TLS __thread __attribute__((tls_model("initial-exec")))

#define RING_SIZE 8192u /* events; a power of two */
#define MAX_RINGS 4096u
#define THREAD_SLOTS 4096u /* the store's thread slots (a slot is < 4096) */

/* The drain naps when every ring is empty: SHALLOW_NAPS of IDLE_NS, then
 * longer ones up to IDLE_MAX_NS, from which the next event wakes it. */
#define IDLE_NS 50000
#define SHALLOW_NAPS 4
#define IDLE_MAX_NS 10000000
#define FULL_MAX_NS 1000000 /* a thread with a full ring waits this long at most */
#define ROUND 4096u     /* events the drain applies under its lock at once */
/* A thread asks for the cache line of the event it will append this many
 * events later, to be written: see prefetch_for_writing. */
#define PREFETCH_AHEAD 32u

/* An operation as a thread appends it. A realloc is two: the old block's
 * free, then the new block (SLOT_RESIZED). */
struct slot {
	uint64_t ptr;
	uint64_t size;
	uint64_t born;  /* the block's birth, store time units */
	uint64_t stamp; /* when: see stamp() */
	uint32_t stack;
	uint16_t thread; /* the store's thread slots number 4096 */
	uint16_t owner;  /* free: the slot of the thread that allocated it */
	uint8_t op;
	uint8_t flags;
	uint8_t pad[6];
};

#define SLOT_RESIZED 1u   /* an allocation that is a realloc's new block */
#define SLOT_TEMPORARY 2u /* a free of a temporary (MS_EVENT_TEMPORARY) */

_Static_assert(sizeof(struct slot) == 48, "an event in 48 bytes");

/* A time stamp that orders events across CPUs: the TSC on x86-64 (constant
 * and synchronised across CPUs on the machines this runs on), else the
 * monotonic clock. Plain rdtsc, not rdtscp: it is not ordered with the
 * instructions around it, but an allocation's stamp is taken hundreds of
 * instructions (the stack walk) after malloc returned, far beyond any
 * reordering, and a free's stamp retires before the real free's stores
 * can be seen by another thread. rdtscp cost churn 5-10% more. */
static inline uint64_t stamp(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	return ms_clock_mono_ns();
#endif
}

/* The line of a ring slot, fetched ahead for writing. The drain has read
 * the slots since the thread last wrote them, so each line the thread
 * comes back to is shared with the drain's CPU, and the store had to wait
 * for that CPU's copy to be invalidated: 42% of a busy thread's time (churn,
 * one thread). Asked for a few events ahead, the wait overlaps the stack
 * walk instead: churn 0.79 s -> 0.33 s. prefetchw, not __builtin_prefetch,
 * which without -mprfchw is a read prefetch and leaves the line shared. */
static inline void prefetch_for_writing(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

enum { RING_FREE, RING_OWNED, RING_CLOSED };

struct ring {
	uint64_t tail __attribute__((aligned(64))); /* the owner's, release */
	uint64_t seen_head; /* the owner's last read of head: no miss per event */
	uint64_t head __attribute__((aligned(64))); /* the drain's, release */
	uint32_t state;                              /* RING_*, under the pool lock */
	uint32_t id;
	/* The owner, its ring full, sleeps on wake until the drain's head
	 * reaches resume (half the ring free again). */
	uint32_t waiting;
	uint32_t wake;
	uint64_t resume;
	struct slot ev[RING_SIZE];
};

struct async_state {
	pthread_mutex_t lock;      /* the drain's: held while applying */
	pthread_mutex_t pool_lock; /* the ring registry */
	uint32_t nrings;
	uint32_t instance;         /* tells backends apart for the threads' rings */
	int unified;               /* ring or direct per thread (see WINDOW) */
	uint32_t sync;             /* set at exit: threads apply their own events */
	uint32_t stop;
	uint32_t asleep; /* the drain naps: a futex word */
	uint32_t wanted; /* threads waiting for lock (take_lock) */
	int running;
	pthread_t drain;
	struct pending *heap;      /* drain_pass's, one entry a ring */
	struct ring *rings[MAX_RINGS];
};

static uint32_t instances;
static MS_TLS struct ring *tls_ring;
static MS_TLS uint32_t tls_instance;
/* The thread has given its ring up (its exit handler ran) yet may still
 * free from later destructors: it applies those in place. */
static MS_TLS uint32_t tls_gone_instance;

/* The unified backend's rule, per thread: it applies its own events under
 * the drain's lock (no ring, nothing to wake, the store up to date at
 * once) until it makes RING_RATE events a second or more, measured over
 * windows of WINDOW events; then it appends to a ring like the async
 * backend, until a window's rate falls under a quarter of that. A thread
 * that makes few events never finishes a window and stays direct. */
#define WINDOW 1024u
#define RING_RATE 100000u
static MS_TLS uint32_t tls_rule_instance;
static MS_TLS uint32_t tls_window_count;
static MS_TLS int tls_ringed;
static MS_TLS uint64_t tls_window_ns;

static struct async_state *state_of(ms_backend *be)
{
	return be->state;
}

/* --- applying (the drain, or a thread in sync mode; under lock) ---------- */

static void apply(ms_backend *be, const struct slot *s)
{
	uint64_t now = s->stamp >> MS_STORE_TIME_SHIFT; /* the store's time units */

	switch (s->op) {
	case MS_OP_ALLOC:
		ms_store_count_alloc(be->store, ms_store_cell_of(s->ptr), s->thread, s->stack, s->size,
				     s->flags & SLOT_RESIZED, s->born);
		break;
	case MS_OP_FREE:
		ms_store_count_free(be->store, ms_store_cell_of(s->ptr), s->thread, s->owner, s->stack,
				    s->size, s->born, now, (s->flags & SLOT_TEMPORARY) != 0);
		break;
	default:
		ms_store_count_annotation(be->store, s->op);
		break;
	}
}

/* A ring with events to apply this round, keyed by its next event's
 * stamp. */
struct pending {
	uint64_t stamp;
	struct ring *ring;
	uint64_t tail; /* as read at the start of the round */
};

static void sift_down(struct pending *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < n && h[l].stamp < h[m].stamp)
			m = l;
		if (l + 1 < n && h[l + 1].stamp < h[m].stamp)
			m = l + 1;
		if (m == i)
			return;
		struct pending t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heapify(struct pending *h, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(h, n, i);
}

/* The lock, for anyone but the drain. The drain lets it go between rounds
 * and takes it again at once: a mutex's waiter, still waking, would lose
 * it to the drain round after round while threads keep the rings full
 * (a flush waited almost a second). So a waiter says so, and the drain
 * steps back until it has the lock. Uncontended, a trylock and nothing
 * more. */
static void take_lock(struct async_state *as)
{
	if (pthread_mutex_trylock(&as->lock) == 0)
		return;
	__atomic_add_fetch(&as->wanted, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&as->lock);
	__atomic_sub_fetch(&as->wanted, 1, __ATOMIC_RELAXED);
}

/* The drain, between rounds: lets a waiter of take_lock have the lock
 * (for a while at most: a waiter may be descheduled). */
static void step_back(struct async_state *as)
{
	for (int i = 0; i < 1000 && ms_atomic_load_relaxed_u32(&as->wanted) != 0; i++) {
		if (i < 64)
			ms_cpu_relax();
		else
			sched_yield();
	}
}

/* Wakes the threads that wait for room in their ring, once half of it is
 * free again (so that they and the drain do not take turns at every
 * event). A full fence on both sides (here, and the waiter's locked
 * exchange before it reads head): either the waiter sees the room, or
 * this sees it waiting. */
static void wake_writers(struct async_state *as, uint32_t nrings)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < nrings; i++) {
		struct ring *r = as->rings[i];

		if (ms_atomic_load_relaxed_u32(&r->waiting) &&
		    r->head >= ms_atomic_load_relaxed(&r->resume)) {
			ms_atomic_store_relaxed_u32(&r->waiting, 0);
			__atomic_add_fetch(&r->wake, 1, __ATOMIC_RELEASE);
			syscall(SYS_futex, &r->wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		}
	}
}

/* One round: every event appended before the round began (its stamp below
 * limit), across all rings in stamp order, which is the order the program
 * made them in; ROUND events at most. Returns whether there may be more
 * to do at once. */
static int drain_pass(ms_backend *be, uint64_t limit)
{
	struct async_state *as = state_of(be);
	uint32_t nrings = ms_atomic_load_acquire_u32(&as->nrings);
	struct pending *heap = as->heap;
	size_t n = 0;
	uint64_t moved = 0;

	for (uint32_t i = 0; i < nrings; i++) {
		struct ring *r = as->rings[i];
		uint64_t tail = ms_atomic_load_acquire(&r->tail);

		if (r->head < tail && r->ev[r->head & (RING_SIZE - 1)].stamp < limit)
			heap[n++] = (struct pending){ r->ev[r->head & (RING_SIZE - 1)].stamp, r, tail };
	}
	heapify(heap, n);
	/* The lock is let go between rounds (for a flush, fork). */
	while (n > 0 && moved < ROUND) {
		struct ring *r = heap[0].ring;

		apply(be, &r->ev[r->head & (RING_SIZE - 1)]);
		moved++;
		ms_atomic_store_release(&r->head, r->head + 1);
		if (r->head < heap[0].tail && r->ev[r->head & (RING_SIZE - 1)].stamp < limit)
			heap[0].stamp = r->ev[r->head & (RING_SIZE - 1)].stamp;
		else
			heap[0] = heap[--n];
		sift_down(heap, n, 0);
	}
	if (moved > 0)
		wake_writers(as, nrings);
	return moved > 0;
}

/* Everything appended so far (not what threads append meanwhile: that
 * would never end). Under lock. */
static void drain_all(ms_backend *be)
{
	uint64_t limit = stamp();

	while (drain_pass(be, limit))
		;
}

static void *drain_main(void *arg)
{
	ms_backend *be = arg;
	struct async_state *as = state_of(be);
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	ms_own_thread_enter();
	if (ms_capture_internal_thread != NULL)
		ms_capture_internal_thread();
	unsigned idle = 0;

	for (;;) {
		int moved;

		pthread_mutex_lock(&as->lock);
		moved = drain_pass(be, stamp());
		pthread_mutex_unlock(&as->lock);
		step_back(as);
		if (ms_atomic_load_acquire_u32(&as->stop))
			break;
		if (moved) {
			idle = 0;
			continue;
		}
		/* Idle. At first short naps, which the program's threads know
		 * nothing of (waking the drain costs them a system call, too
		 * much between two bursts). Idle for longer, the drain sleeps
		 * deeper, up to IDLE_MAX_NS, with the asleep flag up: the next
		 * event wakes it. A wake-up lost between the flag and the wait
		 * costs one nap at most. */
		if (++idle <= SHALLOW_NAPS) {
			struct timespec t = { 0, IDLE_NS };

			nanosleep(&t, NULL);
		} else {
			long ns = IDLE_NS << (idle - SHALLOW_NAPS < 8 ? idle - SHALLOW_NAPS : 8);
			struct timespec t = { 0, ns < IDLE_MAX_NS ? ns : IDLE_MAX_NS };

			ms_atomic_store_release_u32(&as->asleep, 1);
			syscall(SYS_futex, &as->asleep, FUTEX_WAIT_PRIVATE, 1, &t, NULL, 0);
			ms_atomic_store_relaxed_u32(&as->asleep, 0);
		}
	}
	ms_own_thread_leave();
	return NULL;
}

/* --- the program's threads ------------------------------------------------ */

/* The calling thread's ring, taken from the pool on its first event: a
 * free one, or one whose thread has exited and which is drained. NULL when
 * there is none (the caller applies the event itself). */
static struct ring *own_ring(struct async_state *as)
{
	struct ring *r = NULL;

	if (tls_instance == as->instance && tls_ring != NULL)
		return tls_ring;
	if (tls_gone_instance == as->instance)
		return NULL;
	pthread_mutex_lock(&as->pool_lock);
	for (uint32_t i = 0; i < as->nrings && r == NULL; i++) {
		struct ring *c = as->rings[i];

		if (c->state == RING_FREE ||
		    (c->state == RING_CLOSED && ms_atomic_load_acquire(&c->head) == c->tail))
			r = c;
	}
	if (r == NULL && as->nrings < MAX_RINGS) {
		r = ms_pages_alloc(sizeof(*r));
		if (r != NULL) {
			r->id = as->nrings;
			as->rings[as->nrings] = r;
			ms_atomic_store_release_u32(&as->nrings, as->nrings + 1);
		}
	}
	if (r != NULL)
		r->state = RING_OWNED;
	pthread_mutex_unlock(&as->pool_lock);
	tls_ring = r;
	tls_instance = as->instance;
	return r;
}

/* An event the thread applies itself, under the drain's lock: the unified
 * backend's direct threads, every thread at exit (sync), a thread that
 * found no ring. What the rings hold from before it goes first. */
static void apply_in_place(ms_backend *be, struct slot *s)
{
	struct async_state *as = state_of(be);

	take_lock(as);
	while (drain_pass(be, s->stamp))
		;
	apply(be, s);
	pthread_mutex_unlock(&as->lock);
}

/* The unified backend: whether the calling thread's event goes to its
 * ring (else it is applied directly). */
static int use_ring(struct async_state *as)
{
	if (tls_rule_instance != as->instance) {
		tls_rule_instance = as->instance;
		tls_ringed = 0;
		tls_window_count = 0;
		tls_window_ns = ms_clock_mono_ns();
	}
	if (++tls_window_count == WINDOW) {
		uint64_t now = ms_clock_mono_ns(), took = now - tls_window_ns + 1;
		/* events/s >= RING_RATE  <=>  WINDOW * 1e9 >= RING_RATE * took */
		uint64_t fast = (uint64_t)WINDOW * 1000000000u, bar = (uint64_t)RING_RATE * took;

		if (!tls_ringed && fast >= bar)
			tls_ringed = 1;
		else if (tls_ringed && fast * 4 < bar)
			tls_ringed = 0;
		tls_window_count = 0;
		tls_window_ns = now;
	}
	return tls_ringed;
}

static void wake_drain(struct async_state *as)
{
	if (ms_atomic_load_relaxed_u32(&as->asleep)) {
		ms_atomic_store_relaxed_u32(&as->asleep, 0);
		syscall(SYS_futex, &as->asleep, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

/* Hands an event on: to the thread's ring, or applied in place (at exit,
 * for unified's direct threads, or with no ring to be had). */
static void route(ms_backend *be, struct slot *s)
{
	struct async_state *as = state_of(be);
	struct ring *r;
	uint64_t tail;

	if (ms_atomic_load_relaxed_u32(&as->sync) || (as->unified && !use_ring(as)) ||
	    (r = own_ring(as)) == NULL) {
		apply_in_place(be, s);
		return;
	}
	tail = r->tail;
	/* Full as last seen: read the drain's head again (a cache miss, so not
	 * on every event). Full still: wait for the drain rather than lose
	 * anything, asleep until it has made room for half a ring, so that
	 * it has the CPU (with many threads on few cores, naps that poll
	 * starve it). The wake count read before the last look at head makes
	 * a wake-up between the two return at once; the time limit covers a
	 * drain stopped at exit. */
	if (tail - r->seen_head >= RING_SIZE) {
		while (tail - (r->seen_head = ms_atomic_load_acquire(&r->head)) >= RING_SIZE) {
			uint32_t seen = ms_atomic_load_acquire_u32(&r->wake);
			struct timespec limit = { 0, FULL_MAX_NS };

			ms_atomic_store_relaxed(&r->resume, tail - RING_SIZE / 2);
			__atomic_exchange_n(&r->waiting, 1, __ATOMIC_SEQ_CST);
			wake_drain(as);
			if (ms_atomic_load_acquire(&r->head) < tail - RING_SIZE / 2)
				syscall(SYS_futex, &r->wake, FUTEX_WAIT_PRIVATE, seen, &limit, NULL, 0);
			ms_atomic_store_relaxed_u32(&r->waiting, 0);
		}
	}
	r->ev[tail & (RING_SIZE - 1)] = *s;
	ms_atomic_store_release(&r->tail, tail + 1);
	prefetch_for_writing(&r->ev[(tail + PREFETCH_AHEAD) & (RING_SIZE - 1)]);
	/* A napping drain is woken by the first event after it went idle: a
	 * reader then sees the figures within microseconds. The flag's line
	 * is only written when the drain naps or wakes, so this load is
	 * nearly always a hit in this CPU's cache. */
	wake_drain(as);
}

static void async_record(ms_backend *be, const ms_event *ev)
{
	struct async_state *as = state_of(be);

	if (as->unified && ms_store_solo_enter(be->store)) {
		/* The program's only thread: no ring, no lock, no stamp
		 * (nothing else writes the store; see unified_open). */
		ms_store_count_event(be->store, ev);
		ms_store_solo_leave(be->store, 1);
		return;
	}
	struct slot s = {
		.ptr = ev->ptr,
		.size = ev->size,
		.born = ev->born,
		.stack = ev->stack,
		.thread = (uint16_t)ev->thread,
		.owner = (uint16_t)ev->owner,
		.op = (uint8_t)ev->op,
		.flags = ev->flags & MS_EVENT_TEMPORARY ? SLOT_TEMPORARY : 0,
	};

	if (ev->op == MS_OP_REALLOC) {
		struct slot old = {
			.ptr = ev->old_ptr,
			.size = ev->old_size,
			.born = ev->old_born,
			.stack = ev->old_stack,
			.thread = (uint16_t)ev->thread,
			.owner = (uint16_t)ev->old_thread,
			.op = MS_OP_FREE,
			.flags = s.flags,
			.stamp = stamp(),
		};

		route(be, &old);
		s.op = MS_OP_ALLOC;
		s.flags = SLOT_RESIZED;
	}
	s.stamp = stamp();
	route(be, &s);
}

static void async_thread_exit(ms_backend *be)
{
	struct async_state *as = state_of(be);
	struct ring *r = tls_ring;

	if (tls_instance != as->instance || r == NULL)
		return;
	pthread_mutex_lock(&as->pool_lock);
	r->state = RING_CLOSED; /* reused once drained */
	pthread_mutex_unlock(&as->pool_lock);
	tls_ring = NULL;
	tls_gone_instance = as->instance;
}

static void async_flush(ms_backend *be)
{
	struct async_state *as = state_of(be);

	take_lock(as);
	drain_all(be);
	pthread_mutex_unlock(&as->lock);
}

static void async_finish(ms_backend *be)
{
	struct async_state *as = state_of(be);

	/* From now on each thread applies its own events: after the exit path
	 * there may be no drain to count on. */
	ms_atomic_store_release_u32(&as->sync, 1);
	async_flush(be);
}

static int start_drain(ms_backend *be)
{
	struct async_state *as = state_of(be);
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&as->drain, NULL, drain_main, be);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0) {
		pthread_setname_np(as->drain, "memscope-drain");
		as->running = 1;
	}
	return -err;
}

static int async_open(ms_backend *be)
{
	struct async_state *as = ms_pages_alloc(sizeof(*as));

	if (as == NULL)
		return -ENOMEM;
	be->state = as;
	pthread_mutex_init(&as->lock, NULL);
	pthread_mutex_init(&as->pool_lock, NULL);
	as->instance = ms_atomic_add_relaxed_u32(&instances, 1);
	/* Only the drain, or a thread holding its lock, counts. */
	be->store->single_writer = 1;
	as->heap = ms_pages_alloc(MAX_RINGS * sizeof(*as->heap));
	if (as->heap == NULL || start_drain(be) != 0) {
		if (as->heap != NULL)
			ms_pages_free(as->heap, MAX_RINGS * sizeof(*as->heap));
		ms_pages_free(as, sizeof(*as));
		be->state = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void async_close(ms_backend *be)
{
	struct async_state *as = state_of(be);

	if (as == NULL)
		return;
	ms_atomic_store_release_u32(&as->stop, 1);
	syscall(SYS_futex, &as->asleep, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	if (as->running)
		pthread_join(as->drain, NULL);
	for (uint32_t i = 0; i < as->nrings; i++)
		ms_pages_free(as->rings[i], sizeof(*as->rings[i]));
	if (tls_instance == as->instance)
		tls_ring = NULL;
	ms_pages_free(as->heap, MAX_RINGS * sizeof(*as->heap));
	ms_pages_free(as, sizeof(*as));
	be->state = NULL;
}

static void async_fork_prepare(ms_backend *be)
{
	struct async_state *as = state_of(be);

	pthread_mutex_lock(&as->pool_lock);
	take_lock(as);
}

static void async_fork_parent(ms_backend *be)
{
	struct async_state *as = state_of(be);

	pthread_mutex_unlock(&as->lock);
	pthread_mutex_unlock(&as->pool_lock);
}

static void async_fork_child(ms_backend *be)
{
	struct async_state *as = state_of(be);

	/* Only this thread exists in the child: its session starts empty, its
	 * rings too, and it needs a drain of its own. */
	pthread_mutex_init(&as->lock, NULL);
	pthread_mutex_init(&as->pool_lock, NULL);
	for (uint32_t i = 0; i < as->nrings; i++) {
		struct ring *r = as->rings[i];

		r->head = r->tail = r->seen_head = 0;
		r->state = r == tls_ring ? RING_OWNED : RING_FREE;
	}
	as->running = 0;
	if (!ms_atomic_load_relaxed_u32(&as->sync) && start_drain(be) != 0)
		ms_atomic_store_release_u32(&as->sync, 1); /* no drain: apply in place */
}

static int unified_open(ms_backend *be)
{
	int err = async_open(be);

	if (err == 0) {
		state_of(be)->unified = 1;
		/* While the program has one thread it applies its own events
		 * with neither ring nor lock: the drain has nothing to apply,
		 * for no other thread makes events. The second thread's first
		 * claim ends that (memscope/store.h) before its first event. */
		ms_store_solo_start(be->store);
	}
	return err;
}

/* The two backends differ only in name and open. */
#define RING_BACKEND(name_, open_)                                                   \
	{                                                                            \
		.name = name_, .open = open_, .close = async_close, .record = async_record, \
		.flush = async_flush, .finish = async_finish,                                \
		.thread_exit = async_thread_exit, .fork_prepare = async_fork_prepare,        \
		.fork_parent = async_fork_parent, .fork_child = async_fork_child,            \
	}

const ms_backend_ops ms_backend_async = RING_BACKEND("async", async_open);
const ms_backend_ops ms_backend_unified = RING_BACKEND("unified", unified_open);
