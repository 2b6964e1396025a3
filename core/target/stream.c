/*
 * The event stream's sending side. See memscope/stream.h for the protocol.
 *
 * Each thread owns a buffer (taken from a pool, given back at thread exit)
 * and appends to it without locks; the buffer's lock only serialises its
 * sends, between the owner (buffer full) and ms_stream_flush_all at exit,
 * which sends what other threads have buffered so far. A sender only ever
 * sends entries below the count it read with acquire, which the owner
 * published with release after writing them.
 */
#define _GNU_SOURCE
#include "stream_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <memscope/atomic.h>
#include <memscope/platform.h>

#define MS_TLS __thread __attribute__((tls_model("initial-exec")))

/* Buffers at most: a thread storm beyond it loses the events of the
 * threads that find none. */
#define MAX_BUFFERS 4096u

struct tbuf {
	pthread_mutex_t lock; /* serialises sends of this buffer */
	uint32_t count;       /* entries written; the owner's, published with release */
	uint32_t sent;        /* entries already sent; under lock */
	uint32_t in_use;      /* owned by a live thread */
	struct ms_stream_event ev[MS_STREAM_BATCH];
};

struct ms_stream {
	int fd;      /* -1 once stopped */
	dev_t dev;   /* the socket's identity: the program may close fd and */
	ino_t ino;   /* get its number back for something of its own */
	uint32_t id; /* tells streams apart for the threads' cached buffers */
	uint32_t eager; /* the process is exiting: send each event at once */
	struct ms_stream_head head;
	uint64_t start_mono_ns;
	uint64_t seq;
	pthread_mutex_t pool_lock;
	uint32_t nbufs;
	struct tbuf *bufs[MAX_BUFFERS];
};

static uint32_t next_id = 1;
static MS_TLS struct tbuf *tls_buf;
static MS_TLS uint32_t tls_stream;
/* The thread gave its buffer up (its exit handler ran) yet may still free
 * from later destructors: those events are sent one by one. */
static MS_TLS uint32_t tls_gone_stream;

int ms_stream_open(struct ms_stream **out, int fd, pid_t peer, uint32_t pid, uint32_t generation,
		   uint64_t start_mono_ns)
{
	struct ms_stream *s;
	struct stat st;
	struct ucred cred;
	socklen_t len = sizeof(int);
	int type = 0;

	*out = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
		return -EPROTOTYPE;
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid != peer)
		return -EPROTOTYPE;
	if (fstat(fd, &st) != 0)
		return -EPROTOTYPE;
	s = ms_pages_alloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	/* Ours now: no later image of this process inherits it. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	s->fd = fd;
	s->id = ms_atomic_add_relaxed_u32(&next_id, 1);
	s->head.magic = MS_STREAM_MAGIC;
	s->head.version = MS_STREAM_VERSION;
	s->head.pid = pid;
	s->head.generation = generation;
	s->start_mono_ns = start_mono_ns;
	pthread_mutex_init(&s->pool_lock, NULL);
	*out = s;
	return 0;
}

/* Whether fd is still the socket the stream was opened on. */
static int still_ours(const struct ms_stream *s, int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino;
}

/* Sends events as one message. Returns 0, or -1: the stream is over (the
 * recorder is gone, or the descriptor is no longer ours). */
static int send_events(struct ms_stream *s, int fd, const struct ms_stream_event *ev, uint32_t n)
{
	struct ms_stream_head head = s->head;
	struct iovec iov[2] = {
		{ &head, sizeof(head) },
		{ (void *)ev, n * sizeof(*ev) },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t r;

	if (!still_ours(s, fd))
		return -1;
	head.count = (uint16_t)n;
	do
		r = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

/* Sends the buffer's unsent entries; the owner then starts it afresh. */
static void send_buffer(struct ms_stream *s, struct tbuf *b, int owner)
{
	pthread_mutex_lock(&b->lock);
	uint32_t n = ms_atomic_load_acquire_u32(&b->count);
	int fd = __atomic_load_n(&s->fd, __ATOMIC_RELAXED);

	/* The recorder gone, or the descriptor no longer ours: the stream
	 * ends here; the program runs on. */
	if (n > b->sent && fd >= 0 && send_events(s, fd, &b->ev[b->sent], n - b->sent) != 0)
		__atomic_store_n(&s->fd, -1, __ATOMIC_RELAXED);
	b->sent = n;
	if (owner) {
		b->sent = 0;
		ms_atomic_store_release_u32(&b->count, 0);
	}
	pthread_mutex_unlock(&b->lock);
}

/* The calling thread's buffer, taken from the pool on its first event. */
static struct tbuf *own_buffer(struct ms_stream *s)
{
	struct tbuf *b = NULL;

	if (tls_stream == s->id && tls_buf != NULL)
		return tls_buf;
	pthread_mutex_lock(&s->pool_lock);
	for (uint32_t i = 0; i < s->nbufs && b == NULL; i++)
		if (!ms_atomic_load_acquire_u32(&s->bufs[i]->in_use))
			b = s->bufs[i];
	if (b == NULL && s->nbufs < MAX_BUFFERS) {
		b = ms_pages_alloc(sizeof(*b));
		if (b != NULL) {
			pthread_mutex_init(&b->lock, NULL);
			s->bufs[s->nbufs++] = b;
		}
	}
	if (b != NULL)
		ms_atomic_store_relaxed_u32(&b->in_use, 1);
	pthread_mutex_unlock(&s->pool_lock);
	tls_buf = b;
	tls_stream = s->id;
	return b;
}

static void fill(struct ms_stream *s, struct ms_stream_event *e, uint8_t op, uint8_t flags,
		 uint32_t thread, uint64_t ptr, uint64_t size, uint32_t stack)
{
	/* Relaxed is enough: an address handed from one thread's free to
	 * another's malloc goes through the allocator's own synchronisation,
	 * and increments of one atomic follow happens-before. */
	e->seq = ms_atomic_add_relaxed(&s->seq, 1) - 1;
	e->time_ns = ms_clock_mono_ns() - s->start_mono_ns;
	e->ptr = ptr;
	e->size = size;
	e->stack = stack;
	e->thread = thread;
	e->op = op;
	e->flags = flags;
}

void ms_stream_put(struct ms_stream *s, uint8_t op, uint8_t flags, uint32_t thread, uint64_t ptr,
		   uint64_t size, uint32_t stack)
{
	struct ms_stream_event *e;
	struct tbuf *b;
	uint32_t n;

	if (__atomic_load_n(&s->fd, __ATOMIC_RELAXED) < 0)
		return;
	if (tls_gone_stream == s->id) {
		struct ms_stream_event one = { 0 };

		fill(s, &one, op, flags, thread, ptr, size, stack);
		if (send_events(s, s->fd, &one, 1) != 0)
			__atomic_store_n(&s->fd, -1, __ATOMIC_RELAXED);
		return;
	}
	if ((b = own_buffer(s)) == NULL)
		return;
	n = b->count;
	e = &b->ev[n];
	fill(s, e, op, flags, thread, ptr, size, stack);
	ms_atomic_store_release_u32(&b->count, n + 1);
	/* Against flush_all: it stores eager, then reads count; we store
	 * count, then read eager. Without a full fence on both sides each
	 * could miss the other's store and the event would stay unsent. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (n + 1 == MS_STREAM_BATCH || ms_atomic_load_relaxed_u32(&s->eager))
		send_buffer(s, b, 1);
}

void ms_stream_thread_exit(struct ms_stream *s)
{
	struct tbuf *b = tls_buf;

	if (tls_stream != s->id || b == NULL)
		return;
	send_buffer(s, b, 1);
	tls_buf = NULL;
	tls_gone_stream = s->id;
	ms_atomic_store_release_u32(&b->in_use, 0);
}

void ms_stream_flush_all(struct ms_stream *s)
{
	ms_atomic_store_relaxed_u32(&s->eager, 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* see ms_stream_put */
	pthread_mutex_lock(&s->pool_lock);
	for (uint32_t i = 0; i < s->nbufs; i++)
		send_buffer(s, s->bufs[i], s->bufs[i] == tls_buf);
	pthread_mutex_unlock(&s->pool_lock);
}

void ms_stream_fork_child(struct ms_stream *s)
{
	/* Only this thread runs in the child, and locks may have been held by
	 * threads that do not: touch nothing but the descriptor, and that only
	 * if it is still the stream's. */
	if (still_ours(s, s->fd))
		close(s->fd);
	s->fd = -1;
}

void ms_stream_close(struct ms_stream *s)
{
	if (s == NULL)
		return;
	ms_stream_flush_all(s);
	if (still_ours(s, s->fd))
		close(s->fd);
	for (uint32_t i = 0; i < s->nbufs; i++)
		ms_pages_free(s->bufs[i], sizeof(*s->bufs[i]));
	if (tls_stream == s->id)
		tls_buf = NULL;
	ms_pages_free(s, sizeof(*s));
}
