// What libmemscope.so brings into every program it is preloaded into: by
// the rule of the code that runs inside the monitored program, only libc,
// libunwind and liburcu, and from those only functions that are safe inside
// somebody else's program. The reader side (core/reader, core/recording with
// zstd, core/symbols with libdw) may not reach the hook: Bazel's visibility
// keeps hooks/ and backends/ from depending on it, and this test checks the
// result, as a library the hook needs and as a function it calls.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace {

// The words of each line of `readelf ARGS hook` that contains `marker`.
std::vector<std::vector<std::string>> readelf_lines(const std::string &args,
						    const std::string &marker)
{
	mstest::Result r = mstest::run({ "/usr/bin/readelf", args, "-W", mstest::hook_path() });
	EXPECT_EQ(r.status, 0) << r.err;
	std::vector<std::vector<std::string>> lines;
	std::istringstream in(r.out);
	for (std::string line; std::getline(in, line);) {
		if (line.find(marker) == std::string::npos)
			continue;
		std::istringstream words(line);
		std::vector<std::string> w;
		for (std::string word; words >> word;)
			w.push_back(word);
		lines.push_back(w);
	}
	return lines;
}

TEST(HookDeps, NeedsOnlyLibcLibunwindAndLiburcu)
{
	const std::set<std::string> allowed = {
		"[libc.so.6]",	      "[libunwind.so.8]",	"[liburcu-bp.so.8]",
		"[liburcu-cds.so.8]", "[liburcu-common.so.8]", "[libdl.so.2]",
		"[libpthread.so.0]",  "[ld-linux-x86-64.so.2]",
	};
	std::set<std::string> needed;
	for (const auto &w : readelf_lines("-d", "(NEEDED)"))
		needed.insert(w.back()); // "Shared library: [NAME]"
	EXPECT_EQ(needed.count("[libc.so.6]"), 1u);
	EXPECT_EQ(needed.count("[libunwind.so.8]"), 1u);
	for (const std::string &n : needed)
		EXPECT_EQ(allowed.count(n), 1u) << "libmemscope.so needs " << n;
}

// Every function libmemscope.so takes from another library, by name. The
// list is closed on purpose: a function added to the hook's code fails this
// test until it is added here, after a look at whether it may run inside
// somebody else's program. What is not here: stdio on FILE (it allocates its
// buffers), opendir/qsort/strdup and the like (they allocate), and anything
// of the reader side (zstd, libdw, ncurses). A few listed functions may
// allocate inside glibc (dlsym's error state, pthread_create's thread
// storage, pthread_setspecific's second-level keys, __register_atfork's
// list): the hook calls them only with its busy flag set, so that those
// allocations go to the real malloc uncounted (hooks/hook.c).
const std::set<std::string> &allowed_calls()
{
	static const std::set<std::string> calls = {
		// The toolchain's and the C library's start-up glue.
		"_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable", "__cxa_finalize",
		"__gmon_start__", "__stack_chk_fail", "__errno_location", "__memcpy_chk",
		"__open_2",
		// System calls and their thin wrappers.
		"clock_gettime", "close", "exit", "fallocate", "fchmod", "fcntl", "fstat",
		"ftruncate", "getauxval", "geteuid", "getpid", "getppid", "getsockopt", "kill",
		"mmap", "munmap", "nanosleep", "open", "prctl", "pread", "process_vm_readv",
		"read", "readlink", "sched_yield", "sendmsg", "syscall", "sysconf", "unlink",
		"write",
		// Strings and memory, none of which allocates. snprintf formats
		// integers and short strings only (no %ls, no huge widths): glibc
		// formats those in a buffer on the stack.
		"getenv", "memcmp", "memcpy", "memmove", "snprintf", "strcmp", "strlen",
		"strncmp", "strncpy", "strrchr", "strtol",
		// Threads, signals, fork, the dynamic linker.
		"__register_atfork", "dl_iterate_phdr", "dlsym", "pthread_attr_destroy",
		"pthread_attr_init", "pthread_attr_setdetachstate", "pthread_attr_setstacksize",
		"pthread_create", "pthread_join", "pthread_key_create", "pthread_mutex_init",
		"pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_unlock",
		"pthread_once", "pthread_setname_np", "pthread_setspecific", "pthread_sigmask",
		"sigfillset",
		// libunwind, for the stacks the hook's own walk leaves to it.
		"_ULx86_64_local_addr_space", "_ULx86_64_set_caching_policy", "unw_backtrace",
		// liburcu: the stack intern table.
		"_cds_lfht_new", "cds_lfht_add_unique", "cds_lfht_del", "cds_lfht_destroy",
		"cds_lfht_first", "cds_lfht_lookup", "cds_lfht_next", "cds_lfht_resize",
		"urcu_bp_after_fork_child", "urcu_bp_after_fork_parent", "urcu_bp_before_fork",
		"urcu_bp_flavor", "urcu_bp_read_lock", "urcu_bp_read_unlock",
	};
	return calls;
}

TEST(HookDeps, CallsOnlyWhatIsAllowedInsideTheProgram)
{
	size_t undefined = 0;
	for (const auto &w : readelf_lines("--dyn-syms", " UND ")) {
		if (w.size() < 8)
			continue; // the null symbol
		undefined++;
		const std::string name = w[7].substr(0, w[7].find('@')); // no @GLIBC_2.2.5
		EXPECT_EQ(allowed_calls().count(name), 1u)
			<< "libmemscope.so calls " << name
			<< ": may it run inside the monitored program? If so, add it to the list";
	}
	EXPECT_GT(undefined, 10u); // malloc, dlsym, unw_backtrace...: the list was read
}

} // namespace
