/* Text without stdio (memscope/platform.h): the same on every OS. */
#include <memscope/platform.h>

#include <errno.h>

size_t ms_text_put(char *buf, size_t len, size_t n, const char *s)
{
	for (; *s != '\0'; s++, n++)
		if (n + 1 < len)
			buf[n] = *s;
	return n;
}

size_t ms_text_put_uint(char *buf, size_t len, size_t n, uint64_t v)
{
	char digits[20]; /* 2^64 - 1 has 20 */
	size_t d = 0;

	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (d > 0) {
		if (n + 1 < len)
			buf[n] = digits[d - 1];
		n++;
		d--;
	}
	return n;
}

int ms_text_end(char *buf, size_t len, size_t n)
{
	if (len == 0)
		return -ENAMETOOLONG;
	buf[n < len ? n : len - 1] = '\0';
	return n < len ? 0 : -ENAMETOOLONG;
}
