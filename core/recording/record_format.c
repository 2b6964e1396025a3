#include "record_format.h"

#include <stdlib.h>
#include <string.h>

uint32_t ms_crc32c(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const unsigned char *p = data;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1; /* Castagnoli */
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void reserve(struct ms_buf *b, size_t more)
{
	size_t cap;
	unsigned char *d;

	if (b->failed || b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	d = realloc(b->data, cap);
	if (d == NULL) {
		b->failed = 1;
		return;
	}
	b->data = d;
	b->cap = cap;
}

void ms_buf_put_varint(struct ms_buf *b, uint64_t v)
{
	reserve(b, 10);
	if (b->failed)
		return;
	while (v >= 0x80) {
		b->data[b->len++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	b->data[b->len++] = (unsigned char)v;
}

void ms_buf_put_bytes(struct ms_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void ms_buf_put_string(struct ms_buf *b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > MS_REC_MAX_STRING)
		n = MS_REC_MAX_STRING;
	ms_buf_put_varint(b, n);
	ms_buf_put_bytes(b, s, n);
}

void ms_buf_free(struct ms_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

uint64_t ms_cur_varint(struct ms_cursor *c)
{
	uint64_t v = 0;

	for (int shift = 0; !c->bad; shift += 7) {
		unsigned char byte;

		if (c->p >= c->end || shift > 63) {
			c->bad = 1;
			break;
		}
		byte = *c->p++;
		if (shift == 63 && byte > 1) {
			c->bad = 1;
			break;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	return 0;
}

void ms_cur_string(struct ms_cursor *c, char *buf, size_t len)
{
	uint64_t n = ms_cur_varint(c);
	size_t copy;

	if (len > 0)
		buf[0] = '\0';
	if (c->bad)
		return;
	if (n > MS_REC_MAX_STRING || n > (uint64_t)(c->end - c->p)) {
		c->bad = 1;
		return;
	}
	copy = n < len ? (size_t)n : len - 1;
	memcpy(buf, c->p, copy);
	buf[copy] = '\0';
	c->p += n;
}

uint64_t ms_cur_count(struct ms_cursor *c, size_t min_bytes)
{
	uint64_t n = ms_cur_varint(c);

	if (!c->bad && n > (uint64_t)(c->end - c->p) / (min_bytes ? min_bytes : 1))
		c->bad = 1;
	return c->bad ? 0 : n;
}
