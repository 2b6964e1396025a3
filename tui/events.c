#define _GNU_SOURCE
#include "events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <memscope/grow.h>

int ms_event_tap_open(ms_event_tap *t)
{
	int sv[2];

	memset(t, 0, sizeof(*t));
	t->fd = t->child_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	t->fd = sv[0];
	t->child_fd = sv[1];
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->done_cond, NULL);
	return 0;
}

/* A message is a head and 1..MS_STREAM_BATCH events, from one image. */
static int well_formed(ms_event_tap *t, const struct ms_stream_head *h, size_t len)
{
	const struct ms_stream_event *ev = (const void *)(h + 1);

	if (len < sizeof(*h) || h->magic != MS_STREAM_MAGIC || h->version != MS_STREAM_VERSION ||
	    h->count == 0 || h->count > MS_STREAM_BATCH ||
	    len != sizeof(*h) + h->count * sizeof(*ev))
		return 0;
	if (t->pid == 0) {
		t->pid = h->pid;
		t->generation = h->generation;
	}
	if (h->pid != t->pid || h->generation != t->generation)
		return 0;
	for (unsigned i = 0; i < h->count; i++)
		if ((ev[i].op != MS_STREAM_ALLOC && ev[i].op != MS_STREAM_FREE) || ev[i].flags > 3)
			return 0;
	return 1;
}

static int append(ms_event_tap *t, const struct ms_stream_event *ev, size_t n)
{
	if (t->count + n > t->cap) {
		struct ms_stream_event *more = ms_grow(t->events, &t->cap, t->count + n,
						       sizeof(*more), 65536);

		if (more == NULL)
			return -ENOMEM;
		t->events = more;
	}
	memcpy(t->events + t->count, ev, n * sizeof(*ev));
	t->count += n;
	return 0;
}

static void *drain_main(void *arg)
{
	ms_event_tap *t = arg;
	/* One more byte than the largest message: a longer one shows as
	 * truncated. */
	size_t size = sizeof(struct ms_stream_head) + MS_STREAM_BATCH * sizeof(struct ms_stream_event);
	union {
		struct ms_stream_head head;
		unsigned char bytes[sizeof(struct ms_stream_head) +
				    MS_STREAM_BATCH * sizeof(struct ms_stream_event) + 1];
	} *msg = malloc(sizeof(*msg));

	for (;;) {
		ssize_t n;

		if (msg == NULL)
			break;
		n = recv(t->fd, msg, size + 1, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* 0: every copy of the program's end is closed */
		pthread_mutex_lock(&t->lock);
		if ((size_t)n > size || !well_formed(t, &msg->head, (size_t)n) ||
		    append(t, (const void *)(&msg->head + 1), msg->head.count) != 0)
			t->refused++;
		pthread_mutex_unlock(&t->lock);
	}
	free(msg);
	pthread_mutex_lock(&t->lock);
	t->done = 1;
	pthread_cond_broadcast(&t->done_cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int ms_event_tap_start(ms_event_tap *t)
{
	int err;

	if (t->child_fd >= 0)
		close(t->child_fd);
	t->child_fd = -1;
	err = pthread_create(&t->thread, NULL, drain_main, t);
	t->started = err == 0;
	return -err;
}

ms_event_batch ms_event_tap_take(ms_event_tap *t, int final)
{
	ms_event_batch b;

	pthread_mutex_lock(&t->lock);
	if (final && t->started) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)MS_EVENTS_FINAL_WAIT_S;
		while (!t->done && pthread_cond_timedwait(&t->done_cond, &t->lock, &until) == 0)
			;
	}
	b.events = t->events;
	b.count = t->count;
	t->events = NULL;
	t->count = t->cap = 0;
	pthread_mutex_unlock(&t->lock);
	return b;
}

int ms_event_tap_record(ms_event_tap *t, ms_recorder *rec, ms_event_batch *b)
{
	int err;

	pthread_mutex_lock(&t->lock);
	uint32_t pid = t->pid, generation = t->generation;
	pthread_mutex_unlock(&t->lock);
	err = ms_recorder_events(rec, pid, generation, b->events, b->count);
	if (err == -ESRCH) {
		/* No frame of the image yet (its session was not readable at
		 * that refresh): keep them for the next frame. */
		ms_event_tap_return(t, b);
		return 0;
	}
	ms_event_batch_free(b);
	return err;
}

void ms_event_tap_return(ms_event_tap *t, ms_event_batch *b)
{
	if (t != NULL && b->count > 0) {
		pthread_mutex_lock(&t->lock);
		if (append(t, b->events, b->count) != 0)
			t->refused++;
		pthread_mutex_unlock(&t->lock);
	}
	ms_event_batch_free(b);
}

void ms_event_batch_free(ms_event_batch *b)
{
	free(b->events);
	b->events = NULL;
	b->count = 0;
}

size_t ms_event_tap_close(ms_event_tap *t, uint64_t *refused)
{
	size_t left;

	if (t->fd >= 0)
		shutdown(t->fd, SHUT_RDWR); /* wakes the drain thread */
	if (t->started)
		pthread_join(t->thread, NULL);
	if (t->fd >= 0)
		close(t->fd);
	if (t->child_fd >= 0)
		close(t->child_fd);
	left = t->count;
	if (refused != NULL)
		*refused = t->refused;
	free(t->events);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->done_cond);
	memset(t, 0, sizeof(*t));
	t->fd = t->child_fd = -1;
	return left;
}
