/* The receiving end of the event stream (memscope/stream.h): memscope-top
 * -w FILE --events hands the launched program one end of a socket pair and
 * drains the other into memory from a thread of its own, so that the
 * program never waits on the screen or the disk. The recorder takes the
 * events after each frame. */
#ifndef MEMSCOPE_TUI_EVENTS_H
#define MEMSCOPE_TUI_EVENTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <memscope/recording.h>
#include <memscope/stream.h>

typedef struct ms_event_tap {
	int fd;       /* our end */
	int child_fd; /* the program's end, until it is launched */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	/* Under lock: */
	struct ms_stream_event *events;
	size_t count, cap;
	uint32_t pid, generation; /* of the image that sends */
	int done;         /* the program's end is closed: nothing more comes */
	uint64_t refused; /* messages that were not well-formed events */
} ms_event_tap;

/* How long (whole seconds) the final frame waits for the program's last
 * events: they are in flight once it has exited, so this is only a bound. */
#define MS_EVENTS_FINAL_WAIT_S 2

/* Makes the socket pair. Returns 0 or -errno. */
int ms_event_tap_open(ms_event_tap *t);

/* The program was launched (or not: pid < 0): closes our copy of its end
 * and starts draining. Returns 0 or -errno. */
int ms_event_tap_start(ms_event_tap *t);

/* What arrived so far, taken before the snapshot of a frame: the frame
 * then knows every call site these events name. With final, first waits
 * (up to MS_EVENTS_FINAL_WAIT_S) for the program's end to close. */
typedef struct ms_event_batch {
	struct ms_stream_event *events;
	size_t count;
} ms_event_batch;

ms_event_batch ms_event_tap_take(ms_event_tap *t, int final);

/* Records a batch after its frame and frees it. Events of an image with
 * no frame yet go back to the tap for the next frame. Returns 0 or the
 * recorder's error. */
int ms_event_tap_record(ms_event_tap *t, ms_recorder *rec, ms_event_batch *b);

/* Gives a batch back for the next frame (t may be NULL for an empty one). */
void ms_event_tap_return(ms_event_tap *t, ms_event_batch *b);

/* Frees a batch that is not recorded. */
void ms_event_batch_free(ms_event_batch *b);

/* Returns how many events it still held: of an image that had no frame
 * (it exec'd or ended before memscope-top first read it); *refused (if not
 * NULL): the messages it could not take (ill-formed, or out of memory). */
size_t ms_event_tap_close(ms_event_tap *t, uint64_t *refused);

#endif
