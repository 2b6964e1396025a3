// cxx_sites: C++ allocations. make_widgets news 50 Widgets (64 B each) and
// keeps them; make_buffers news 20 arrays of 100 ints and deletes them all.
#include <cstdint>
#include <vector>

struct Widget {
	uint64_t words[8];
};

static std::vector<Widget *> *widgets;

__attribute__((noinline)) void make_widgets()
{
	for (int i = 0; i < 50; i++)
		widgets->push_back(new Widget()); // site: make_widgets
}

__attribute__((noinline)) void make_buffers()
{
	for (int i = 0; i < 20; i++) {
		int *b = new int[100]; // site: make_buffers
		b[99] = i;
		delete[] b;
	}
}

int main()
{
	widgets = new std::vector<Widget *>();
	widgets->reserve(64);
	make_widgets();
	make_buffers();
	return 0;
}
