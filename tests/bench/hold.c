/* hold N: allocates N blocks of 16 bytes and keeps them, then prints its
 * resident memory in kB (VmRSS) and exits 0. Run plain and under the hook,
 * the difference divided by N is what the hook spends per live block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long n = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
	char line[256];
	void **kept;
	FILE *f;

	if (n <= 0) {
		fprintf(stderr, "usage: hold N\n");
		return 2;
	}
	kept = malloc((size_t)n * sizeof(*kept));
	if (kept == NULL)
		return 1;
	for (long i = 0; i < n; i++) {
		kept[i] = malloc(16);
		if (kept[i] == NULL)
			return 1;
		memset(kept[i], 1, 16);
	}
	f = fopen("/proc/self/status", "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			printf("%ld\n", strtol(line + 6, NULL, 10));
	if (f != NULL)
		fclose(f);
	return 0;
}
