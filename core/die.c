#include <memscope/die.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

void ms_die_at(const char *file, int line, const char *msg)
{
	char digits[16];
	int n = 0;

	do {
		digits[sizeof(digits) - 2 - n] = (char)('0' + line % 10);
		line /= 10;
		n++;
	} while (line > 0 && n < 14);
	digits[sizeof(digits) - 1] = '\0';
	put("memscope: fatal: ");
	put(file);
	put(":");
	put(&digits[sizeof(digits) - 1 - n]);
	put(": ");
	put(msg);
	put("\n");
	abort();
}
