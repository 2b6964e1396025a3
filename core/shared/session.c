/*
 * Session names (memscope/session.h): written by the store in the target,
 * parsed by the readers. Runs in both places: no allocation, no stdio.
 */
#include <memscope/session.h>

#include <errno.h>
#include <string.h>

#include <memscope/platform.h> /* ms_text_put */

static const char prefix[] = "memscope-";

int ms_session_path(char *buf, size_t len, const char *dir, uid_t uid, pid_t pid, unsigned gen)
{
	size_t n = ms_text_put(buf, len, 0, dir);

	n = ms_text_put(buf, len, n, "/");
	n = ms_text_put(buf, len, n, prefix);
	n = ms_text_put_uint(buf, len, n, uid);
	n = ms_text_put(buf, len, n, "-");
	n = ms_text_put_uint(buf, len, n, (uint64_t)pid);
	n = ms_text_put(buf, len, n, "-");
	n = ms_text_put_uint(buf, len, n, gen);
	return ms_text_end(buf, len, n);
}

/* Parses decimal digits up to `stop`; at most 10 digits, value <= max. */
static int parse_field(const char **p, char stop, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;
	int digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (++digits > 10)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		s++;
	}
	if (digits == 0 || *s != stop || v > max)
		return -EINVAL;
	*p = stop == '\0' ? s : s + 1;
	*out = v;
	return 0;
}

int ms_session_parse_name(const char *name, uid_t *uid, pid_t *pid, unsigned *gen)
{
	unsigned long u, p, g;
	const char *s = name;

	if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	s += sizeof(prefix) - 1;
	if (parse_field(&s, '-', 0xffffffffUL, &u) != 0 ||
	    parse_field(&s, '-', 0x7fffffffUL, &p) != 0 ||
	    parse_field(&s, '\0', 0xffffUL, &g) != 0 || p == 0)
		return -EINVAL;
	*uid = (uid_t)u;
	*pid = (pid_t)p;
	*gen = (unsigned)g;
	return 0;
}
