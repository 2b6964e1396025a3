/*
 * inlined: one block of 4000 + argc * 2 bytes (4002 run without
 * arguments), kept live, allocated by make_buf, which is forced inline
 * into fill_table, itself forced inline into main: the one return address
 * of main's call to malloc stands for three functions. Built -O2 -g.
 */
#include <stdlib.h>

static void *volatile kept;

static inline __attribute__((always_inline)) void *make_buf(int n)
{
	return malloc((size_t)n); /* site: make_buf */
}

static inline __attribute__((always_inline)) void fill_table(int n)
{
	kept = make_buf(n * 2); /* site: fill_table */
}

int main(int argc, char **argv)
{
	(void)argv;
	fill_table(2000 + argc); /* site: main */
	return 0;
}
