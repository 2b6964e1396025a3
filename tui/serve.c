#define _GNU_SOURCE
#include "serve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "frame.h"
#include <memscope/grow.h>
#include <memscope/platform.h>
#include <memscope/sessions.h>
#include <memscope/snapshot.h>
#include <memscope/symbols.h>

/*
 * The HTTP server's bounds. Prometheus keeps one connection per target and
 * sends a few hundred bytes of headers; anything far beyond that is not a
 * scraper and gets a 4xx or a closed connection, never more memory.
 */
#define MS_SERVE_CONNECTIONS 64
#define MS_SERVE_PER_IP 16
#define MS_SERVE_TIMEOUT_S 10 /* a connection idle (or stalled) this long is closed */
#define MS_SERVE_REQUEST_MEMORY (16 * 1024) /* a request's line and headers */

/* A running program's call-site names are waited for at most this long a
 * refresh, all sessions together, as a share of -d: new names arrive over
 * a few refreshes rather than hold every figure back. An ended program's
 * final figures wait longer, once. */
#define MS_NAMES_SHARE 0.5
#define MS_FINAL_NAMES_NS (2 * 1000 * 1000 * 1000ULL)
/* An ended program is reported until a scrape has had its final figures,
 * or this long when nobody scrapes. */
#define MS_KEEP_ENDED_NS (600 * 1000 * 1000 * 1000ULL)

#define MS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The per-process figures: one metric each, in this order. */
enum { F_LIVE, F_PEAK, F_ALLOCS, F_FREES, F_RSS, F_DROPPED, F_MMAP, F_TEMPS, F_COUNT };

static const struct metric {
	const char *name, *type, *help;
} process_metrics[F_COUNT] = {
	[F_LIVE] = { "memscope_live_bytes", "gauge",
		     "Bytes of heap blocks live, as the program asked for them." },
	[F_PEAK] = { "memscope_peak_bytes", "gauge",
		     "The most bytes the heap held live at once since the start." },
	[F_ALLOCS] = { "memscope_allocs_total", "counter", "Heap allocations since the start." },
	[F_FREES] = { "memscope_frees_total", "counter", "Heap frees since the start." },
	[F_RSS] = { "memscope_rss_bytes", "gauge", "Resident set size, as last sampled." },
	[F_DROPPED] = { "memscope_dropped_events_total", "counter",
			"Heap operations the hook could not count." },
	[F_MMAP] = { "memscope_mmap_live_bytes", "gauge",
		     "Bytes of the program's own anonymous private mappings live." },
	[F_TEMPS] = { "memscope_temporary_allocs_total", "counter",
		      "Blocks freed before their thread allocated again (temporaries)." },
};

/* One call site as a series: its labels, escaped and joined, name the
 * series (stacks that end at the same function, file and line add up). */
struct site_row {
	char *labels; /* function="...",file="...",line="..." */
	uint64_t live_bytes, allocs;
};

/* A session followed while it runs, then reported once more when it ends,
 * then remembered (done) until its file goes, so as not to take it again. */
struct served {
	char path[MS_SESSION_PATH_MAX];
	pid_t pid;
	struct stat st;      /* its file's, to tell a new session at the same path */
	ms_reader reader;    /* base NULL once ended */
	ms_symbols *symbols;
	int listed;          /* in the last listing */
	int have;            /* figures taken */
	int ended;           /* the figures are final */
	int done;            /* not reported any more */
	uint64_t ended_body; /* the first body with the final figures */
	uint64_t ended_ns;
	char *command;       /* escaped */
	uint64_t figure[F_COUNT];
	struct site_row *rows;
	size_t nrows;
};

/* A body as served: counted references, one held as the current one and
 * one for every response in flight. */
struct body {
	atomic_uint refs;
	uint64_t gen;
	size_t len;
	char text[];
};

struct server {
	const struct ms_top_options *opt;
	pthread_mutex_t lock;   /* body and scraped */
	struct body *body;
	uint64_t scraped;       /* the newest body a GET /metrics had */
	uint64_t gen;           /* bodies made */
	struct served **sessions;
	size_t nsessions, cap;
	int list_error;         /* the listing's last error, said once */
};

static void body_unref(void *cls)
{
	struct body *b = cls;

	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

/* Growing text, for the body and the labels. Out of memory leaves a
 * NULL text, which the caller checks once at the end. */
struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		char *more = ms_grow(t->p, &t->cap, t->len + n + 1, 1, 4096);

		if (more == NULL) {
			t->failed = 1;
			return;
		}
		t->p = more;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_puts(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Short pieces only (names, numbers): labels go through text_puts. */
__attribute__((format(printf, 2, 3))) static void text_printf(struct text *t, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		t->failed = 1;
	else
		text_add(t, buf, (size_t)n);
}

/* A label value as the format wants it: backslash, double quote and
 * newline escaped; a byte that is not UTF-8 becomes U+FFFD (Prometheus
 * refuses a body whose label values are not UTF-8, and commands and file
 * names may be any bytes). */
static void text_label_value(struct text *t, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t left = strlen(value);

	while (left > 0) {
		size_t n = ms_utf8_len(s, left);

		if (n == 0) {
			text_puts(t, "\xef\xbf\xbd");
			n = 1;
		} else if (*s == '\\') {
			text_puts(t, "\\\\");
		} else if (*s == '"') {
			text_puts(t, "\\\"");
		} else if (*s == '\n') {
			text_puts(t, "\\n");
		} else {
			text_add(t, (const char *)s, n);
		}
		s += n;
		left -= n;
	}
}

static char *label_value(const char *value)
{
	struct text t = { 0 };

	text_label_value(&t, value);
	if (t.failed || t.p == NULL) {
		free(t.p);
		return t.failed ? NULL : strdup("");
	}
	return t.p;
}

static void free_rows(struct served *e)
{
	for (size_t i = 0; i < e->nrows; i++)
		free(e->rows[i].labels);
	free(e->rows);
	e->rows = NULL;
	e->nrows = 0;
}

static void close_session(struct served *e)
{
	if (e->reader.base != NULL)
		ms_reader_close(&e->reader);
	e->reader.base = NULL;
	ms_symbols_free(e->symbols);
	e->symbols = NULL;
}

static void free_session(struct served *e)
{
	close_session(e);
	free_rows(e);
	free(e->command);
	free(e);
}

static int by_labels(const void *a, const void *b)
{
	return strcmp(((const struct site_row *)a)->labels, ((const struct site_row *)b)->labels);
}

/* Most live bytes first, then most allocations, then by name: a stable
 * order from one scrape to the next. */
static int by_live(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	if (x->allocs != y->allocs)
		return x->allocs < y->allocs ? 1 : -1;
	return strcmp(x->labels, y->labels);
}

/* The labels of a call site's series. */
static char *site_labels(const ms_callsite *c)
{
	struct text t = { 0 };
	char name[512];

	text_puts(&t, "function=\"");
	if (c->top == NULL)
		text_puts(&t, c->site.stack == 0 ? "(no stack)" : "(allocator)");
	else
		text_label_value(&t, ms_frame_name(c->top, name, sizeof(name)));
	text_puts(&t, "\",file=\"");
	if (c->top != NULL && c->top->file != NULL)
		text_label_value(&t, c->top->file);
	text_puts(&t, "\",line=\"");
	if (c->top != NULL && c->top->line > 0)
		text_printf(&t, "%d", c->top->line);
	text_puts(&t, "\"");
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* The heap's call sites of s as series: the same function, file and line
 * summed, the first max (0: all) by live bytes kept. Mappings are apart
 * (memscope_mmap_live_bytes), as on the screen. */
static void take_sites(struct served *e, const ms_snapshot *s, size_t max, uint64_t wait_ns)
{
	ms_callsite *sites = NULL;
	struct site_row *rows;
	size_t n = 0, kept = 0;
	int count;

	free_rows(e);
	if (e->symbols == NULL)
		return;
	count = ms_symbols_sorted_callsites(e->symbols, &e->reader, s, 0, wait_ns, &sites);
	if (count <= 0) {
		free(sites); /* an empty list is an allocation too */
		return;
	}
	rows = calloc((size_t)count, sizeof(*rows));
	if (rows == NULL) {
		free(sites);
		return;
	}
	for (int i = 0; i < count; i++) {
		if (sites[i].site.kind != MS_SITE_HEAP)
			continue;
		rows[n].labels = site_labels(&sites[i]);
		if (rows[n].labels == NULL)
			continue;
		rows[n].live_bytes = sites[i].site.live_bytes;
		rows[n].allocs = sites[i].site.allocs;
		n++;
	}
	free(sites);
	qsort(rows, n, sizeof(*rows), by_labels);
	for (size_t i = 0; i < n; i++) {
		if (kept > 0 && strcmp(rows[kept - 1].labels, rows[i].labels) == 0) {
			rows[kept - 1].live_bytes += rows[i].live_bytes;
			rows[kept - 1].allocs += rows[i].allocs;
			free(rows[i].labels);
			continue;
		}
		rows[kept++] = rows[i];
	}
	qsort(rows, kept, sizeof(*rows), by_live);
	if (max > 0 && kept > max) {
		for (size_t i = max; i < kept; i++)
			free(rows[i].labels);
		kept = max;
	}
	e->rows = rows;
	e->nrows = kept;
}

static int process_gone(pid_t pid)
{
	return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Takes a running session's figures; ends it when its program has ended
 * (or its segment cannot be read any more: the last figures stand). */
static void take(struct server *srv, struct served *e, uint64_t wait_ns)
{
	ms_snapshot s;
	int ended;

	if (ms_snapshot_take(&e->reader, &s) != 0) {
		ended = 1;
	} else {
		ended = s.state != MS_SESSION_RUNNING || process_gone(e->pid);
		if (e->command == NULL)
			e->command = label_value(s.command);
		e->figure[F_LIVE] = s.live_bytes;
		e->figure[F_PEAK] = s.peak_bytes;
		e->figure[F_ALLOCS] = s.total_allocs;
		e->figure[F_FREES] = s.total_frees;
		e->figure[F_RSS] = s.rss_bytes;
		e->figure[F_DROPPED] = s.dropped_events;
		e->figure[F_MMAP] = s.mmap_live_bytes;
		e->figure[F_TEMPS] = s.temporary_allocs;
		take_sites(e, &s, (size_t)srv->opt->sites, ended ? MS_FINAL_NAMES_NS : wait_ns);
		e->have = 1;
		ms_snapshot_release(&s);
	}
	if (!ended)
		return;
	e->ended = 1;
	e->ended_body = srv->gen + 1;
	e->ended_ns = ms_clock_mono_ns();
	close_session(e);
}

static struct served *find_session(struct server *srv, const char *path)
{
	for (size_t i = 0; i < srv->nsessions; i++)
		if (strcmp(srv->sessions[i]->path, path) == 0)
			return srv->sessions[i];
	return NULL;
}

static void remove_session(struct server *srv, size_t i)
{
	free_session(srv->sessions[i]);
	srv->sessions[i] = srv->sessions[--srv->nsessions];
}

static void add_session(struct server *srv, const ms_session_entry *entry)
{
	struct served *e;

	/* Of a process, the newest image only: an exec'd one's figures end
	 * where the new one's begin, under the same pid. */
	for (size_t i = 0; i < srv->nsessions; i++)
		if (srv->sessions[i]->pid == entry->pid) {
			remove_session(srv, i);
			break;
		}
	if (srv->nsessions == srv->cap) {
		struct served **more = ms_grow(srv->sessions, &srv->cap, srv->nsessions + 1,
					       sizeof(*more), 16);

		if (more == NULL)
			return;
		srv->sessions = more;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	snprintf(e->path, sizeof(e->path), "%s", entry->path);
	e->pid = entry->pid;
	e->listed = 1;
	/* One still starting, or not a session: looked at again next time. */
	if (stat(e->path, &e->st) != 0 || ms_reader_open(&e->reader, e->path) != 0) {
		free(e);
		return;
	}
	e->symbols = ms_symbols_new(srv->opt->skip);
	srv->sessions[srv->nsessions++] = e;
}

/* Whether the file at e's path is still the one e read. */
static int same_file(const struct served *e)
{
	struct stat st;

	return stat(e->path, &st) == 0 && st.st_ino == e->st.st_ino &&
	       st.st_dev == e->st.st_dev && st.st_ctim.tv_sec == e->st.st_ctim.tv_sec &&
	       st.st_ctim.tv_nsec == e->st.st_ctim.tv_nsec;
}

/* Lists the sessions, takes the figures of those running, and retires
 * those reported after their end. */
static void refresh(struct server *srv)
{
	const struct ms_top_options *opt = srv->opt;
	ms_session_entry *list = NULL;
	uint64_t start = ms_clock_mono_ns(), scraped;
	uint64_t budget = (uint64_t)(opt->interval_s * MS_NAMES_SHARE * 1e9);
	int n = ms_session_list(ms_shm_dir(), &list);

	if (n < 0) {
		if (n != srv->list_error)
			fprintf(stderr, "memscope-top: cannot list %s: %s\n", ms_shm_dir(),
				ms_reader_strerror(n));
		srv->list_error = n;
		n = 0;
	} else {
		srv->list_error = 0;
	}
	for (size_t i = 0; i < srv->nsessions; i++)
		srv->sessions[i]->listed = 0;
	for (int i = 0; i < n; i++) {
		struct served *e;

		/* Sorted by pid then generation: the newest is the last. */
		if (i + 1 < n && list[i + 1].pid == list[i].pid)
			continue;
		if (opt->pid != 0 && list[i].pid != opt->pid)
			continue;
		e = find_session(srv, list[i].path);
		if (e != NULL && e->done && !same_file(e)) {
			/* The pid was used again, under memscope again. */
			e->listed = 0;
			e = NULL;
		}
		if (e != NULL)
			e->listed = 1;
		else
			add_session(srv, &list[i]);
	}
	free(list);

	for (size_t i = 0; i < srv->nsessions; i++) {
		struct served *e = srv->sessions[i];
		uint64_t spent = ms_clock_mono_ns() - start;

		if (!e->ended)
			take(srv, e, spent < budget ? budget - spent : 0);
	}

	pthread_mutex_lock(&srv->lock);
	scraped = srv->scraped;
	pthread_mutex_unlock(&srv->lock);
	for (size_t i = 0; i < srv->nsessions;) {
		struct served *e = srv->sessions[i];

		if (e->ended && !e->done &&
		    (!e->have || e->ended_body <= scraped ||
		     ms_clock_mono_ns() - e->ended_ns > MS_KEEP_ENDED_NS)) {
			e->done = 1;
			free_rows(e);
		}
		/* Its file gone (or another's now): nothing to tell it from. */
		if (e->done && !e->listed) {
			remove_session(srv, i);
			continue;
		}
		i++;
	}
}

static int by_pid(const void *a, const void *b)
{
	const struct served *x = *(struct served *const *)a, *y = *(struct served *const *)b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void text_head(struct text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s ", name);
	text_puts(t, help);
	text_printf(t, "\n# TYPE %s %s\n", name, type);
}

static void text_site(struct text *t, const char *name, pid_t pid, const char *labels,
		      uint64_t value)
{
	text_printf(t, "%s{pid=\"%d\",", name, (int)pid);
	text_puts(t, labels);
	text_printf(t, "} %llu\n", (unsigned long long)value);
}

/* The body of GET /metrics: every metric's samples together, as the
 * format requires; sessions by pid. */
static struct body *render(struct server *srv)
{
	struct text t = { 0 };
	struct body *b;
	size_t n = 0;
	struct served **shown = calloc(srv->nsessions + 1, sizeof(*shown));

	if (shown == NULL)
		return NULL;
	for (size_t i = 0; i < srv->nsessions; i++)
		if (!srv->sessions[i]->done && srv->sessions[i]->have)
			shown[n++] = srv->sessions[i];
	qsort(shown, n, sizeof(*shown), by_pid);
	for (int f = 0; f < F_COUNT; f++) {
		const struct metric *m = &process_metrics[f];

		text_head(&t, m->name, m->type, m->help);
		for (size_t i = 0; i < n; i++) {
			text_printf(&t, "%s{pid=\"%d\",command=\"", m->name, (int)shown[i]->pid);
			text_puts(&t, shown[i]->command != NULL ? shown[i]->command : "");
			text_printf(&t, "\"} %llu\n", (unsigned long long)shown[i]->figure[f]);
		}
	}
	text_head(&t, "memscope_callsite_live_bytes", "gauge",
		  "Bytes live of the heap blocks allocated at a call site.");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < shown[i]->nrows; j++)
			text_site(&t, "memscope_callsite_live_bytes", shown[i]->pid,
				  shown[i]->rows[j].labels, shown[i]->rows[j].live_bytes);
	text_head(&t, "memscope_callsite_allocs_total", "counter",
		  "Heap allocations made at a call site since the start.");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < shown[i]->nrows; j++)
			text_site(&t, "memscope_callsite_allocs_total", shown[i]->pid,
				  shown[i]->rows[j].labels, shown[i]->rows[j].allocs);
	free(shown);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	b = malloc(sizeof(*b) + t.len + 1);
	if (b != NULL) {
		atomic_init(&b->refs, 1);
		b->gen = ++srv->gen;
		b->len = t.len;
		memcpy(b->text, t.p, t.len + 1);
	}
	free(t.p);
	return b;
}

/* Makes the next body and makes it the one served. */
static void publish(struct server *srv)
{
	struct body *b = render(srv), *old;

	if (b == NULL)
		return; /* out of memory: the last body stays */
	pthread_mutex_lock(&srv->lock);
	old = srv->body;
	srv->body = b;
	pthread_mutex_unlock(&srv->lock);
	body_unref(old);
}

static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><title>memscope</title></head><body>\n"
	"<h1>memscope</h1>\n<p>Live heap figures of the programs running under memscope's "
	"hook: <a href=\"/metrics\">/metrics</a> (Prometheus text format).</p>\n"
	"</body></html>\n";

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *type,
				  const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int has_body(struct MHD_Connection *c)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_CONTENT_LENGTH) != NULL ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* On the server's thread: the answer to a request. Other methods are
 * answered at once, before any body they carry is read (the connection
 * then closes); a GET or HEAD on its second call, once its headers are
 * all in, which keeps the connection open for the next scrape. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct server *srv = cls;
	struct MHD_Response *r;
	struct body *b;
	enum MHD_Result ret;
	int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;

	(void)version, (void)upload_data, (void)upload_data_size;
	if (!get && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				  "Method not allowed: GET /metrics\n", "GET, HEAD");
	/* A GET with a body is answered on the first call too: its body is
	 * never read. */
	if (*req_cls == NULL && !has_body(c)) {
		*req_cls = srv;
		return MHD_YES;
	}
	if (strcmp(url, "/") == 0)
		return queue_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", index_page, NULL);
	if (strcmp(url, "/metrics") != 0)
		return queue_text(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
				  "Not found: the metrics are at /metrics\n", NULL);
	pthread_mutex_lock(&srv->lock);
	b = srv->body;
	atomic_fetch_add(&b->refs, 1);
	/* A HEAD has no body: it does not count as the scrape that had it. */
	if (get && b->gen > srv->scraped)
		srv->scraped = b->gen;
	pthread_mutex_unlock(&srv->lock);
	r = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->text, body_unref, b);
	if (r == NULL) {
		body_unref(b);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, MS_CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int ms_serve_parse_address(const char *arg, char *host, size_t host_len, char *port,
			   size_t port_len)
{
	const char *colon = strrchr(arg, ':'), *p;
	size_t hlen;
	char *end;
	long v;

	if (colon == NULL) {
		p = arg;
		snprintf(host, host_len, "127.0.0.1");
		hlen = 0;
	} else {
		p = colon + 1;
		hlen = (size_t)(colon - arg);
		if (hlen >= 2 && arg[0] == '[' && arg[hlen - 1] == ']') {
			arg++;
			hlen -= 2;
		} else if (memchr(arg, ':', hlen) != NULL || memchr(arg, '[', hlen) != NULL) {
			return -1; /* an IPv6 address goes in brackets */
		}
		if (hlen >= host_len)
			return -1;
		if (hlen == 0) {
			snprintf(host, host_len, "127.0.0.1");
		} else {
			memcpy(host, arg, hlen);
			host[hlen] = '\0';
		}
	}
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	snprintf(port, port_len, "%ld", v);
	return 0;
}

/* A listening socket on host:port (any of its addresses); says what went
 * wrong and returns -1 when there is none. */
static int listen_on(const char *arg, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *a;
	int fd = -1, err = 0, one = 1;
	int gai = getaddrinfo(host, port, &hints, &res);

	if (gai != 0) {
		fprintf(stderr, "memscope-top: cannot listen on %s: %s\n", arg, gai_strerror(gai));
		return -1;
	}
	for (a = res; a != NULL; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		/* A restart may bind while the last run's connections linger. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "memscope-top: cannot listen on %s: %s\n", arg, strerror(err));
	return fd;
}

/* Says where it serves, on stdout (the port, when 0 was asked for). */
static void print_address(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	printf(ss.ss_family == AF_INET6 ? "serving http://[%s]:%s/metrics\n" :
					  "serving http://%s:%s/metrics\n",
	       host, port);
	fflush(stdout);
}

/* Waits for SIGINT or SIGTERM at most ns. Returns 1 when one came. */
static int wait_for_stop(const sigset_t *stop, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	int sig;

	do {
		sig = sigtimedwait(stop, NULL, &ts);
	} while (sig < 0 && errno == EINTR);
	return sig > 0;
}

int ms_serve_run(const struct ms_top_options *opt)
{
	struct server srv = { .opt = opt };
	char host[256], port[16];
	struct MHD_Daemon *d;
	sigset_t stop, old;
	uint64_t interval = (uint64_t)(opt->interval_s * 1e9), next;
	int fd;

	if (ms_serve_parse_address(opt->serve, host, sizeof(host), port, sizeof(port)) != 0) {
		fprintf(stderr, "memscope-top: --serve needs [ADDR]:PORT: %s\n", opt->serve);
		return 2;
	}
	/* Every thread started from here on (the server's, the symbols')
	 * leaves the stop signals to this one, which waits for them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	signal(SIGPIPE, SIG_IGN); /* a scraper that hangs up is no reason to die */

	fd = listen_on(opt->serve, host, port);
	if (fd < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	pthread_mutex_init(&srv.lock, NULL);
	/* The first body before the first request. */
	refresh(&srv);
	publish(&srv);
	if (srv.body == NULL) {
		fprintf(stderr, "memscope-top: out of memory\n");
		close(fd);
		return 1;
	}
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, answer, &srv,
			     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MS_SERVE_CONNECTIONS,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MS_SERVE_PER_IP,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MS_SERVE_TIMEOUT_S,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MS_SERVE_REQUEST_MEMORY,
			     MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "memscope-top: cannot serve on %s\n", opt->serve);
		close(fd);
	} else {
		print_address(fd);
		next = ms_clock_mono_ns() + interval;
		for (;;) {
			uint64_t now = ms_clock_mono_ns();

			if (wait_for_stop(&stop, next > now ? next - now : 0))
				break;
			refresh(&srv);
			publish(&srv);
			next += interval;
			now = ms_clock_mono_ns();
			if (next < now)
				next = now + interval;
		}
		MHD_stop_daemon(d); /* closes fd */
	}
	while (srv.nsessions > 0)
		remove_session(&srv, srv.nsessions - 1);
	free(srv.sessions);
	body_unref(srv.body);
	pthread_mutex_destroy(&srv.lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d == NULL ? 1 : 0;
}
