/*
 * big_symbols: a program whose symbol table is about 100 MB (a million
 * generated functions, linked in from gen_symbols.py's object), that
 * allocates from 100 call sites of its own, site_00 to site_99: site_NN
 * makes one block of 1000 + NN bytes, kept. It then waits 2 s in naps of
 * 100 ms and exits 0. Symbols for its frames take seconds to read with a
 * search that walks the whole table.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

/* 1##n - 100: NN as a number ("08" alone would be a bad octal one). The
 * block goes through a volatile so that malloc is called, not jumped to: a
 * tail call would leave site_NN out of the stack. */
#define SITE(n)                                                  \
	__attribute__((noinline)) void *site_##n(void)           \
	{                                                        \
		void *volatile block = malloc(1000 + (1##n - 100)); \
		return block;                                    \
	}
#define TEN(d)                                                                              \
	SITE(d##0) SITE(d##1) SITE(d##2) SITE(d##3) SITE(d##4) SITE(d##5) SITE(d##6) SITE(d##7) \
	SITE(d##8) SITE(d##9)
TEN(0) TEN(1) TEN(2) TEN(3) TEN(4) TEN(5) TEN(6) TEN(7) TEN(8) TEN(9)

#define PTR(n) site_##n,
#define PTRS(d) PTR(d##0) PTR(d##1) PTR(d##2) PTR(d##3) PTR(d##4) PTR(d##5) PTR(d##6) \
	PTR(d##7) PTR(d##8) PTR(d##9)
static void *(*const sites[])(void) = { PTRS(0) PTRS(1) PTRS(2) PTRS(3) PTRS(4) PTRS(5)
						PTRS(6) PTRS(7) PTRS(8) PTRS(9) };

void *kept[100];

int main(void)
{
	for (int i = 0; i < 100; i++)
		kept[i] = sites[i]();
	for (int i = 0; i < 20; i++) {
		struct timespec t = { 0, 100 * 1000 * 1000 };

		while (nanosleep(&t, &t) != 0)
			;
	}
	return 0;
}
