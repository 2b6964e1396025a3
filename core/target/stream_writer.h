/* The event stream's sending side (memscope/stream.h), used by the capture
 * engine. Private to core/target.
 *
 * Runs: the hook path (no malloc: buffers come from ms_pages_alloc). */
#ifndef MEMSCOPE_STREAM_WRITER_H
#define MEMSCOPE_STREAM_WRITER_H

#include <stdint.h>
#include <sys/types.h>

#include <memscope/stream.h>

struct ms_stream;

/* Takes over fd if it is a SOCK_SEQPACKET socket whose other end belongs
 * to process peer (the launcher); marks it close-on-exec. Returns 0 or
 * -errno (-EPROTOTYPE: some other descriptor; then fd is left alone). */
int ms_stream_open(struct ms_stream **out, int fd, pid_t peer, uint32_t pid, uint32_t generation,
		   uint64_t start_mono_ns);
/* Sends what is buffered and frees the stream; for tests. */
void ms_stream_close(struct ms_stream *s);

/* Hook path: appends an event to the calling thread's buffer, sending it
 * when full. */
void ms_stream_put(struct ms_stream *s, uint8_t op, uint8_t flags, uint32_t thread, uint64_t ptr,
		   uint64_t size, uint32_t stack);

/* The calling thread ends: sends its buffer and gives it up. */
void ms_stream_thread_exit(struct ms_stream *s);

/* The process ends: sends every thread's buffer, and from now on each
 * event as it comes (exit handlers may still free). */
void ms_stream_flush_all(struct ms_stream *s);

/* In a forked child: the stream is the parent's; stop, without sending. */
void ms_stream_fork_child(struct ms_stream *s);

#endif
