// unwinding [PLUGIN]: allocations at the places where a stack walker that
// reuses its last stack could go wrong, each repeated so that the walker
// has a last stack to reuse:
//   throws    a C++ exception thrown from the bottom of a recursion that
//             allocates at every level, caught at varying heights
//   jumps     longjmp out of a recursion that allocates at every level
//   fibers    three swapcontext coroutines, each on its own stack, that
//             allocate at different depths and switch in between
//   signals   a SIGUSR1 handler on an alternate signal stack that allocates,
//             raised from different depths
//   threads   two threads allocating at different depths
//   plugin    PLUGIN (libplugin.so) opened, called and closed, three times
// Exits 0 when every step did what it should, 1 otherwise. Built -O2 -g,
// as production code is; the recursions are kept from becoming loops.
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <pthread.h>
#include <stdexcept>
#include <sys/mman.h>
#include <ucontext.h>

namespace {

void *volatile sink;

// Blocks the steps keep until they end.
void *kept[4096];
int nkept;

void keep(void *p)
{
	if (nkept < 4096)
		kept[nkept++] = p;
	else
		free(p);
}

void free_kept()
{
	for (int i = 0; i < nkept; i++)
		free(kept[i]);
	nkept = 0;
}

// ---- throws ---------------------------------------------------------------

__attribute__((noinline)) int throw_down(int n)
{
	void *p = malloc(16 + n);

	sink = p;
	if (n == 0) {
		free(p);
		throw std::runtime_error("bottom");
	}
	int r = throw_down(n - 1) + 1; // not a tail call
	free(p);
	return r;
}

__attribute__((noinline)) int catch_at(int height, int n)
{
	if (height > 0) {
		void *p = malloc(8);
		int r = catch_at(height - 1, n) + 1;

		free(p);
		return r;
	}
	try {
		return throw_down(n);
	} catch (const std::runtime_error &) {
		sink = malloc(24); // after the unwind, from the catching frame
		free(sink);
		return -1;
	}
}

// ---- jumps --------------------------------------------------------------

std::jmp_buf jump_back;
volatile bool jump_armed; // set while jump_back is valid

__attribute__((noinline)) void jump_down(int n)
{
	keep(malloc(32 + n));
	if (n <= 0) {
		if (jump_armed)
			std::longjmp(jump_back, 1);
		return;
	}
	jump_down(n - 1);
	sink = nullptr; // not a tail call
}

__attribute__((noinline)) void jumps(int n)
{
	jump_armed = true;
	if (setjmp(jump_back) == 0)
		jump_down(n);
	jump_armed = false;
	sink = malloc(40); // right after the jump
	free(sink);
}

// ---- fibers -------------------------------------------------------------

const int kFibers = 3;
const size_t kFiberStack = 256 * 1024;
const int kRounds = 20;
ucontext_t main_ctx, fiber_ctx[kFibers];
bool fiber_done[kFibers];

__attribute__((noinline)) void fiber_alloc(int id, int n)
{
	if (n > 0) {
		fiber_alloc(id, n - 1);
		sink = nullptr;
		return;
	}
	keep(malloc(48 + id));
	swapcontext(&fiber_ctx[id], &main_ctx);
	keep(malloc(56 + id)); // resumed, maybe after another fiber ran
}

void fiber_body(int id)
{
	for (int round = 0; round < kRounds; round++)
		fiber_alloc(id, (round + id) % 5);
	fiber_done[id] = true;
}

bool fibers()
{
	void *stacks[kFibers];

	for (int i = 0; i < kFibers; i++) {
		stacks[i] = mmap(nullptr, kFiberStack, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stacks[i] == MAP_FAILED || getcontext(&fiber_ctx[i]) != 0)
			return false;
		fiber_ctx[i].uc_stack.ss_sp = stacks[i];
		fiber_ctx[i].uc_stack.ss_size = kFiberStack;
		fiber_ctx[i].uc_link = &main_ctx;
		makecontext(&fiber_ctx[i], reinterpret_cast<void (*)()>(fiber_body), 1, i);
	}
	// Round robin until all are done: each swap resumes a fiber where it
	// yielded; a finished fiber returns to main_ctx through uc_link.
	for (int turn = 0; turn <= kRounds; turn++)
		for (int i = 0; i < kFibers; i++) {
			keep(malloc(64)); // main's own stack, between fibers
			if (fiber_done[i] || swapcontext(&main_ctx, &fiber_ctx[i]) != 0)
				return false;
		}
	for (int i = 0; i < kFibers; i++)
		if (!fiber_done[i])
			return false;
	free_kept();
	for (int i = 0; i < kFibers; i++)
		munmap(stacks[i], kFiberStack);
	return true;
}

// ---- signals ------------------------------------------------------------

volatile sig_atomic_t handled;

void on_usr1(int)
{
	// malloc is not async-signal-safe; this program raises the signal only
	// from its own code, never inside malloc.
	void *p = malloc(72);

	sink = p;
	free(p);
	handled = handled + 1;
}

__attribute__((noinline)) void raise_at(int n)
{
	if (n > 0) {
		void *p = malloc(80);

		raise_at(n - 1);
		free(p);
		return;
	}
	raise(SIGUSR1);
}

bool signals()
{
	static char alt[64 * 1024];
	stack_t ss = {};
	struct sigaction sa = {};

	ss.ss_sp = alt;
	ss.ss_size = sizeof(alt);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	if (sigaltstack(&ss, nullptr) != 0 || sigaction(SIGUSR1, &sa, nullptr) != 0)
		return false;
	for (int i = 0; i < 50; i++)
		raise_at(i % 7);
	return handled == 50;
}

// ---- threads ------------------------------------------------------------

__attribute__((noinline)) void thread_down(int n)
{
	void *p = malloc(96);

	sink = p;
	if (n > 0)
		thread_down(n - 1);
	free(p);
}

void *thread_body(void *arg)
{
	for (int i = 0; i < 500; i++)
		thread_down((i + static_cast<int>(reinterpret_cast<intptr_t>(arg))) % 9);
	return nullptr;
}

// ---- plugin -------------------------------------------------------------

bool plugin(const char *path)
{
	for (int round = 0; round < 3; round++) {
		void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		void *(*plugin_alloc)(size_t);

		if (lib == nullptr)
			return false;
		*reinterpret_cast<void **>(&plugin_alloc) = dlsym(lib, "plugin_alloc");
		if (plugin_alloc == nullptr)
			return false;
		for (int i = 0; i < 10; i++)
			free(plugin_alloc(100));
		dlclose(lib);
	}
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	int caught = 0;

	for (int i = 0; i < 200; i++)
		caught += catch_at(i % 5, i % 11) == -1 + i % 5;
	for (int i = 0; i < 200; i++)
		jumps(i % 13);
	free_kept();
	if (caught != 200 || !fibers() || !signals())
		return 1;
	pthread_t t[2];
	for (intptr_t i = 0; i < 2; i++)
		if (pthread_create(&t[i], nullptr, thread_body, reinterpret_cast<void *>(i)) != 0)
			return 1;
	for (pthread_t &each : t)
		pthread_join(each, nullptr);
	if (argc > 1 && !plugin(argv[1]))
		return 1;
	free_kept();
	return 0;
}
