/* /proc readers. Every byte read from /proc is treated as untrusted: fields
 * are parsed with explicit bounds and a malformed file yields -EINVAL. */
#define _GNU_SOURCE
#include <memscope/platform.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

ssize_t ms_read_file(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Writes "/proc/<pid or self>/<leaf>" into buf; cut to fit. */
static void proc_path(char *buf, size_t len, pid_t pid, const char *leaf)
{
	size_t n = ms_text_put(buf, len, 0, "/proc/");

	if (pid > 0)
		n = ms_text_put_uint(buf, len, n, (uint64_t)pid);
	else
		n = ms_text_put(buf, len, n, "self");
	n = ms_text_put(buf, len, n, "/");
	n = ms_text_put(buf, len, n, leaf);
	ms_text_end(buf, len, n);
}

/* "task/<tid>/<leaf>", the leaf of one thread's file. */
static void task_leaf(char *buf, size_t len, pid_t tid, const char *leaf)
{
	size_t n = ms_text_put(buf, len, 0, "task/");

	n = ms_text_put_uint(buf, len, n, (uint64_t)(tid > 0 ? tid : 0));
	n = ms_text_put(buf, len, n, "/");
	n = ms_text_put(buf, len, n, leaf);
	ms_text_end(buf, len, n);
}

/* Parses one unsigned decimal field; advances *p past it and one space. */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	while (s < end && *s >= '0' && *s <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
	}
	if (s < end && *s == ' ')
		s++;
	*p = s;
	*out = v;
	return 0;
}

/* Skips one space-separated field. */
static int skip_field(const char **p, const char *end)
{
	const char *s = *p;

	if (s >= end)
		return -EINVAL;
	while (s < end && *s != ' ')
		s++;
	if (s < end)
		s++;
	*p = s;
	return 0;
}

struct proc_stat {
	char state;
	uint64_t utime, stime, threads, starttime;
};

/* /proc/PID/stat: "pid (comm) state ppid ...". comm may hold spaces and
 * parentheses, so fields are counted from the last ')'. leaf: "stat" or
 * "task/TID/stat", which has the same format. */
static int read_stat_leaf(pid_t pid, const char *leaf, struct proc_stat *st)
{
	char path[96], buf[1024];
	const char *p, *end;
	ssize_t n;

	proc_path(path, sizeof(path), pid, leaf);
	n = ms_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	end = buf + n;
	p = strrchr(buf, ')');
	if (p == NULL || p + 2 >= end)
		return -EINVAL;
	p += 2;
	st->state = *p;
	/* Field 3 is the state; utime is field 14, stime 15, num_threads 20,
	 * starttime 22. */
	for (int field = 3; field <= 22; field++) {
		uint64_t v;

		if (field == 14 || field == 15 || field == 20 || field == 22) {
			if (parse_u64(&p, end, &v) != 0)
				return -EINVAL;
			if (field == 14)
				st->utime = v;
			else if (field == 15)
				st->stime = v;
			else if (field == 20)
				st->threads = v;
			else
				st->starttime = v;
		} else if (skip_field(&p, end) != 0) {
			return -EINVAL;
		}
	}
	return 0;
}

static int read_stat(pid_t pid, struct proc_stat *st)
{
	return read_stat_leaf(pid, "stat", st);
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	return ticks * (1000000000u / (uint64_t)hz);
}

int ms_proc_cpu_ns(pid_t pid, uint64_t *ns)
{
	struct proc_stat st;
	int err = read_stat(pid, &st);

	if (err != 0)
		return err;
	*ns = ticks_to_ns(st.utime + st.stime);
	return 0;
}

int ms_proc_thread_count(pid_t pid, uint64_t *threads)
{
	struct proc_stat st;
	int err = read_stat(pid, &st);

	if (err != 0)
		return err;
	*threads = st.threads;
	return 0;
}

int ms_proc_thread_stat(pid_t pid, pid_t tid, char *state, uint64_t *cpu_ns)
{
	char leaf[48];
	struct proc_stat st;
	int err;

	task_leaf(leaf, sizeof(leaf), tid, "stat");
	err = read_stat_leaf(pid, leaf, &st);
	if (err != 0)
		return err;
	*state = st.state;
	*cpu_ns = ticks_to_ns(st.utime + st.stime);
	return 0;
}

int ms_proc_start_ticks(pid_t pid, uint64_t *ticks)
{
	struct proc_stat st;
	int err = read_stat(pid, &st);

	if (err != 0)
		return err;
	*ticks = st.starttime;
	return 0;
}

int ms_proc_state(pid_t pid, char *state, uint64_t *threads)
{
	struct proc_stat st;
	int err = read_stat(pid, &st);

	if (err != 0)
		return err;
	*state = st.state;
	*threads = st.threads;
	return 0;
}

int ms_proc_alive(pid_t pid, uint64_t start_ticks)
{
	struct proc_stat st;

	if (pid <= 0 || read_stat(pid, &st) != 0)
		return 0;
	/* A zombie main thread with other threads still running (it ended
	 * with pthread_exit) is a live process; a zombie alone is not. */
	if ((st.state == 'Z' && st.threads <= 1) || st.state == 'X' || st.state == 'x')
		return 0;
	return st.starttime == start_ticks;
}

int ms_proc_rss(pid_t pid, uint64_t *bytes)
{
	char path[64], buf[256];
	const char *p, *end;
	uint64_t size, resident;
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n;

	proc_path(path, sizeof(path), pid, "statm");
	n = ms_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	p = buf;
	end = buf + n;
	if (parse_u64(&p, end, &size) != 0 || parse_u64(&p, end, &resident) != 0)
		return -EINVAL;
	*bytes = resident * (uint64_t)(page > 0 ? page : 4096);
	return 0;
}

int ms_thread_name(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[96], leaf[48], name[64];
	ssize_t n;

	if (len == 0)
		return -EINVAL;
	task_leaf(leaf, sizeof(leaf), tid, "comm");
	proc_path(path, sizeof(path), pid, leaf);
	n = ms_read_file(path, name, sizeof(name));
	if (n < 0)
		return (int)n;
	while (n > 0 && name[n - 1] == '\n')
		name[--n] = '\0';
	strncpy(buf, name, len - 1);
	buf[len - 1] = '\0';
	return 0;
}

struct tid_scan {
	pid_t *tids;
	int max, count;
};

static int note_tid(void *arg, const char *name)
{
	struct tid_scan *scan = arg;
	const char *p = name, *end = name + strlen(name);
	uint64_t tid;

	if (parse_u64(&p, end, &tid) != 0 || p != end || tid == 0 || tid > INT32_MAX)
		return 0; /* "." and ".." */
	if (scan->count < scan->max)
		scan->tids[scan->count] = (pid_t)tid;
	scan->count++;
	return 0;
}

int ms_proc_threads(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct tid_scan scan = { tids, max, 0 };
	int err;

	proc_path(path, sizeof(path), pid, "task");
	err = ms_dir_scan(path, note_tid, &scan);
	return err != 0 ? err : scan.count;
}

ssize_t ms_proc_cmdline_self(char *buf, size_t len)
{
	ssize_t n = ms_read_file("/proc/self/cmdline", buf, len);

	/* The kernel ends each argument with a NUL; drop the last one. */
	if (n > 0 && buf[n - 1] == '\0')
		n--;
	return n;
}
