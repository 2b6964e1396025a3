// inlined_ctor: one array of 3000 + argc chars (3001 run without
// arguments), kept live, new'ed by Table's constructor, which is forced
// inline into main. Built -O2 -g.
#include <cstddef>

struct Table {
	char *p;
	__attribute__((always_inline)) explicit Table(size_t n) : p(new char[n]) {} // site: Table
};

static char *volatile kept;

int main(int argc, char **)
{
	Table t(3000 + (size_t)argc); // site: main
	kept = t.p;
	return 0;
}
