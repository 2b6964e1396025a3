// platform/linux: clocks, thread identity, /proc readers, segments, pages,
// checked against what the test itself does to its own process.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <memscope/platform.h>

#include "tests/support/run.h"

namespace {

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

// Keeps the touched buffer observable so the compiler cannot drop it.
char *volatile sink;

// A thread that runs until told to stop, after publishing its kernel tid.
class Parked {
public:
	Parked()
		: t([this] {
			  std::unique_lock<std::mutex> lk(mu);
			  tid = ms_thread_id();
			  cv.notify_all();
			  cv.wait(lk, [this] { return stop; });
		  })
	{
		std::unique_lock<std::mutex> lk(mu);
		cv.wait(lk, [this] { return tid != 0; });
	}
	~Parked()
	{
		{
			std::lock_guard<std::mutex> lk(mu);
			stop = true;
		}
		cv.notify_all();
		t.join();
	}
	pid_t id()
	{
		std::lock_guard<std::mutex> lk(mu);
		return tid;
	}

private:
	std::mutex mu;
	std::condition_variable cv;
	pid_t tid = 0;
	bool stop = false;
	std::thread t;
};

TEST(Clock, MonotonicAndAdvances)
{
	uint64_t prev = ms_clock_mono_ns(), start = prev;

	ASSERT_GT(prev, 0u);
	for (int i = 0; i < 100000; i++) {
		uint64_t now = ms_clock_mono_ns();

		ASSERT_GE(now, prev);
		prev = now;
	}
	sleep_ms(20);
	EXPECT_GE(ms_clock_mono_ns() - start, 20u * 1000000u);
}

TEST(Proc, RssGrowsWithTouchedMemory)
{
	const size_t size = 16u << 20;
	uint64_t before = 0, after = 0;

	ASSERT_EQ(ms_proc_rss(0, &before), 0);
	EXPECT_GT(before, 0u);
	char *buf = static_cast<char *>(malloc(size));
	ASSERT_NE(buf, nullptr);
	memset(buf, 0xa5, size);
	sink = buf;
	ASSERT_EQ(ms_proc_rss(0, &after), 0);
	EXPECT_GE(after, before + (8u << 20)) << "before " << before << " after " << after;
	// The same through our own pid.
	uint64_t by_pid = 0;
	ASSERT_EQ(ms_proc_rss(getpid(), &by_pid), 0);
	EXPECT_GE(by_pid, before + (8u << 20));
	EXPECT_EQ(sink[size - 1], static_cast<char>(0xa5));
	free(buf);
}

TEST(Proc, CpuTimeAdvancesWhileBusy)
{
	uint64_t before = 0, after = 0;
	volatile uint64_t spin = 0;

	ASSERT_EQ(ms_proc_cpu_ns(0, &before), 0);
	// Busy until this process has really burnt 60 ms of CPU, however loaded
	// the machine is.
	uint64_t start = ms_clock_process_cpu_ns();
	while (ms_clock_process_cpu_ns() - start < 60u * 1000000u)
		for (int i = 0; i < 10000; i++)
			spin = spin + 1;
	ASSERT_EQ(ms_proc_cpu_ns(0, &after), 0);
	EXPECT_GT(after, before);
}

// A thread's CPU clock, read by itself (tid 0) and from another thread by
// its tid; a thread that has ended, or one of another process, has none.
TEST(Clock, ThreadCpuTimeByTid)
{
	std::atomic<pid_t> tid{ 0 };
	std::atomic<bool> go_on{ false };
	uint64_t burnt = 0, seen = 0, mine = 0;
	std::thread t([&] {
		volatile uint64_t spin = 0;
		uint64_t start = 0, now = 0;

		ASSERT_EQ(ms_clock_thread_cpu_ns(0, &start), 0);
		do {
			for (int i = 0; i < 10000; i++)
				spin = spin + 1;
			ASSERT_EQ(ms_clock_thread_cpu_ns(0, &now), 0);
		} while (now - start < 40u * 1000000u);
		burnt = now;
		tid = ms_thread_id();
		while (!go_on)
			sleep_ms(1);
	});
	while (tid == 0)
		sleep_ms(1);
	ASSERT_EQ(ms_clock_thread_cpu_ns(tid, &seen), 0);
	// At least what it burnt, and not this thread's time: it only waits now.
	EXPECT_GE(seen, burnt);
	EXPECT_LT(seen, burnt + 20u * 1000000u);
	ASSERT_EQ(ms_clock_thread_cpu_ns(0, &mine), 0);
	EXPECT_GT(mine, 0u);
	pid_t gone = tid;
	go_on = true;
	t.join();
	EXPECT_EQ(ms_clock_thread_cpu_ns(gone, &seen), -EINVAL);
	EXPECT_EQ(ms_clock_thread_cpu_ns(getppid(), &seen), -EINVAL); // not ours
	EXPECT_EQ(ms_clock_thread_cpu_ns(-5, &seen), -EINVAL);
}

// One busy thread never seems to use more than a core in any interval:
// the kernel's plain process clock lags a thread running on another CPU
// by up to a tick, and so shows it at 104% of one interval and 96% of the
// next. This thread's own time (tiny: it sleeps) is taken out of the
// process's; the slack is for reads microseconds apart.
TEST(Clock, FreshProcessCpuKeepsOneBusyThreadWithinACore)
{
	std::atomic<bool> stop{ false };
	std::thread busy([&] {
		volatile uint64_t spin = 0;

		while (!stop)
			spin = spin + 1;
	});
	uint64_t cpu0 = 0, mono0 = 0, mine0 = 0;
	double most = 0;
	int measured = 0;

	ms_clock_process_cpu_fresh(&cpu0, &mono0);
	ASSERT_EQ(ms_clock_thread_cpu_ns(0, &mine0), 0);
	for (int i = 0; i < 40; i++) {
		uint64_t cpu = 0, mono = 0, mine = 0;

		sleep_ms(50);
		ms_clock_process_cpu_fresh(&cpu, &mono);
		ASSERT_EQ(ms_clock_thread_cpu_ns(0, &mine), 0);
		ASSERT_GT(mono, mono0);
		double busy_share = ((double)(cpu - cpu0) - (double)(mine - mine0)) / (double)(mono - mono0);
		most = std::max(most, busy_share);
		measured++;
		cpu0 = cpu;
		mono0 = mono;
		mine0 = mine;
	}
	stop = true;
	busy.join();
	EXPECT_EQ(measured, 40);
	EXPECT_LE(most, 1.005);
	EXPECT_GT(most, 0.2); // it did run
}

TEST(Proc, StartTicksAndAlive)
{
	uint64_t t1 = 0, t2 = 0, by_pid = 0;

	ASSERT_EQ(ms_proc_start_ticks(0, &t1), 0);
	ASSERT_EQ(ms_proc_start_ticks(0, &t2), 0);
	EXPECT_EQ(t1, t2);
	ASSERT_EQ(ms_proc_start_ticks(getpid(), &by_pid), 0);
	EXPECT_EQ(by_pid, t1);
	EXPECT_EQ(ms_proc_alive(getpid(), t1), 1);
	EXPECT_EQ(ms_proc_alive(getpid(), t1 + 1), 0);
}

TEST(Proc, ChildAliveThenZombieThenReaped)
{
	int fds[2];

	ASSERT_EQ(pipe(fds), 0);
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		char c;

		close(fds[1]);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(fds[0]);

	uint64_t ticks = 0;
	ASSERT_EQ(ms_proc_start_ticks(child, &ticks), 0);
	EXPECT_EQ(ms_proc_alive(child, ticks), 1);
	EXPECT_EQ(ms_proc_alive(child, ticks + 1), 0);

	close(fds[1]); // the child exits; until reaped it is a zombie: gone
	int alive = 1;
	for (int i = 0; i < 1000 && alive; i++) {
		alive = ms_proc_alive(child, ticks);
		if (alive)
			sleep_ms(10);
	}
	EXPECT_EQ(alive, 0);

	int status = -1;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(ms_proc_alive(child, ticks), 0);
	uint64_t gone = 0;
	EXPECT_LT(ms_proc_start_ticks(child, &gone), 0);
}

// A child whose main thread ended with pthread_exit while another thread
// waits on a pipe: its main thread is a zombie, the process is alive.
static void *wait_on_pipe(void *arg)
{
	char c;

	while (read(*(int *)arg, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

TEST(Proc, ZombieMainThreadWithAThreadRunningIsAlive)
{
	int fds[2];

	ASSERT_EQ(pipe(fds), 0);
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		pthread_t t;

		close(fds[1]);
		if (pthread_create(&t, nullptr, wait_on_pipe, &fds[0]) != 0)
			_exit(3);
		// The main thread ends alone, as pthread_exit ends it (which
		// itself would unwind into the test framework's handlers).
		syscall(SYS_exit, 0);
	}
	close(fds[0]);

	uint64_t ticks = 0, threads = 0;
	char state = '?';
	ASSERT_EQ(ms_proc_start_ticks(child, &ticks), 0);
	for (int i = 0; i < 1000 && state != 'Z'; i++) {
		ASSERT_EQ(ms_proc_state(child, &state, &threads), 0);
		if (state != 'Z')
			sleep_ms(10);
	}
	EXPECT_EQ(state, 'Z');
	EXPECT_EQ(threads, 2u);
	EXPECT_EQ(ms_proc_alive(child, ticks), 1);

	close(fds[1]); // its thread ends the process
	int status = -1;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Proc, ThreadsListsARunningThread)
{
	pid_t tids[1024];
	int before = ms_proc_threads(0, tids, 1024);

	ASSERT_GE(before, 1);
	EXPECT_NE(std::find(tids, tids + std::min(before, 1024), ms_thread_id()),
		  tids + std::min(before, 1024));
	{
		Parked t;
		int during = ms_proc_threads(0, tids, 1024);

		ASSERT_EQ(during, before + 1);
		EXPECT_NE(std::find(tids, tids + during, t.id()), tids + during) << t.id();
		EXPECT_NE(std::find(tids, tids + during, ms_thread_id()), tids + during);
		// Fewer slots than threads: the count is still the full one.
		EXPECT_EQ(ms_proc_threads(0, tids, 1), during);
		EXPECT_EQ(ms_proc_threads(getpid(), tids, 1024), during);
	}
}

TEST(Thread, IdIsTheKernelTid)
{
	EXPECT_EQ(ms_thread_id(), getpid()); // the main thread
	pid_t other = 0;
	std::thread t([&] { other = ms_thread_id(); });
	t.join();
	EXPECT_GT(other, 0);
	EXPECT_NE(other, getpid());
}

TEST(Thread, Names)
{
	std::string self, by_tid, by_pid_tid, small;
	int rc = -1, rc_pid = -1, rc_small = -1;

	std::thread t([&] {
		char buf[64];

		ASSERT_EQ(pthread_setname_np(pthread_self(), "unit-name"), 0);
		ms_thread_name_self(buf, sizeof(buf));
		self = buf;
		rc = ms_thread_name(0, ms_thread_id(), buf, sizeof(buf));
		by_tid = buf;
		rc_pid = ms_thread_name(getpid(), ms_thread_id(), buf, sizeof(buf));
		by_pid_tid = buf;
		rc_small = ms_thread_name(0, ms_thread_id(), buf, 5);
		small = buf;
	});
	t.join();
	EXPECT_EQ(self, "unit-name");
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(by_tid, "unit-name");
	EXPECT_EQ(rc_pid, 0);
	EXPECT_EQ(by_pid_tid, "unit-name");
	EXPECT_EQ(rc_small, 0);
	EXPECT_EQ(small, "unit"); // truncated to fit, terminated
}

TEST(Proc, CmdlineNamesTheBinary)
{
	char buf[4096];
	ssize_t n = ms_proc_cmdline_self(buf, sizeof(buf));

	ASSERT_GT(n, 0);
	std::string cmd(buf, (size_t)n);
	EXPECT_NE(cmd.find("platform_test"), std::string::npos) << cmd;
	EXPECT_NE(cmd.back(), '\0'); // the trailing NUL is dropped
}

TEST(ReadFile, MissingAndExact)
{
	char buf[64];
	std::string dir = mstest::temp_dir("platform"), path = dir + "/f";

	EXPECT_EQ(ms_read_file((dir + "/missing").c_str(), buf, sizeof(buf)), -ENOENT);
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "hello world", 11), 11);
	close(fd);
	ASSERT_EQ(ms_read_file(path.c_str(), buf, sizeof(buf)), 11);
	EXPECT_STREQ(buf, "hello world");
	ASSERT_EQ(ms_read_file(path.c_str(), buf, 6), 5); // at most len - 1
	EXPECT_STREQ(buf, "hello");
	unlink(path.c_str());
	rmdir(dir.c_str());
}

TEST(Shm, CreateMapAndRefuse)
{
	std::string dir = mstest::temp_dir("platform"), path = dir + "/seg";
	const size_t size = 12345;
	void *rw = nullptr;
	struct stat st;

	// Owner-only whatever the umask says.
	mode_t old = umask(0277);
	int rc = ms_shm_create(path.c_str(), size, &rw, nullptr);
	umask(old);
	ASSERT_EQ(rc, 0);
	ASSERT_NE(rw, nullptr);
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0600u);
	EXPECT_EQ(st.st_size, (off_t)size);
	EXPECT_EQ(st.st_uid, geteuid());
	memcpy(static_cast<char *>(rw) + size - 6, "tail!", 6);

	void *again = nullptr;
	EXPECT_EQ(ms_shm_create(path.c_str(), size, &again, nullptr), -EEXIST);

	const void *ro = nullptr;
	size_t got = 0;
	ASSERT_EQ(ms_shm_map_readonly(path.c_str(), &ro, &got), 0);
	EXPECT_EQ(got, size);
	EXPECT_STREQ(static_cast<const char *>(ro) + size - 6, "tail!");
	ms_shm_unmap(ro, got);
	ms_shm_unmap(rw, size);

	ro = nullptr;
	EXPECT_EQ(ms_shm_map_readonly(dir.c_str(), &ro, &got), -EINVAL);
	EXPECT_EQ(ms_shm_map_readonly((dir + "/missing").c_str(), &ro, &got), -ENOENT);

	unlink(path.c_str());
	rmdir(dir.c_str());
}

TEST(Text, PutsNumbersAndStringsAndSaysWhenCut)
{
	char buf[32];
	size_t n = ms_text_put(buf, sizeof(buf), 0, "task/");

	n = ms_text_put_uint(buf, sizeof(buf), n, 0);
	n = ms_text_put(buf, sizeof(buf), n, "/");
	n = ms_text_put_uint(buf, sizeof(buf), n, UINT64_MAX);
	EXPECT_EQ(n, 27u);
	EXPECT_EQ(ms_text_end(buf, sizeof(buf), n), 0);
	EXPECT_STREQ(buf, "task/0/18446744073709551615");

	// Cut: as much as fits, NUL-terminated, and the length it needed.
	char small[8];
	n = ms_text_put(small, sizeof(small), 0, "abc");
	n = ms_text_put_uint(small, sizeof(small), n, 123456);
	EXPECT_EQ(n, 9u);
	EXPECT_EQ(ms_text_end(small, sizeof(small), n), -ENAMETOOLONG);
	EXPECT_STREQ(small, "abc1234");
	EXPECT_EQ(ms_text_end(small, 0, 0), -ENAMETOOLONG);
}

TEST(Pages, ZeroFilled)
{
	const size_t size = 1u << 20;
	unsigned char *p = static_cast<unsigned char *>(ms_pages_alloc(size));

	ASSERT_NE(p, nullptr);
	for (size_t i = 0; i < size; i++)
		ASSERT_EQ(p[i], 0u) << i;
	memset(p, 0xff, size);
	ms_pages_free(p, size);
	p = static_cast<unsigned char *>(ms_pages_alloc(size));
	ASSERT_NE(p, nullptr);
	EXPECT_EQ(std::count(p, p + size, 0), (long)size);
	ms_pages_free(p, size);
}

} // namespace
