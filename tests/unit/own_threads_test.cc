// core/own_threads: the registry of memscope's own threads and the sum of
// their CPU time, checked against the thread clocks of the test's own
// threads. Each sum is bracketed exactly: a thread's part starts between
// the clock readings just before and just after it entered, and ends
// between those just before and just after it left.
#include <gtest/gtest.h>

#include <time.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <memscope/own_threads.h>
#include <memscope/platform.h>

namespace {

const uint64_t MS = 1000000u;

uint64_t thread_cpu()
{
	uint64_t ns = 0;

	EXPECT_EQ(ms_clock_thread_cpu_ns(0, &ns), 0);
	return ns;
}

// Busy until the calling thread has really used ns of CPU, however loaded
// the machine is.
void burn(uint64_t ns)
{
	volatile uint64_t spin = 0;
	uint64_t start = thread_cpu();

	while (thread_cpu() - start < ns)
		for (int i = 0; i < 1000; i++)
			spin = spin + 1;
}

// A thread that does one step at a time when told to.
class Worker {
public:
	Worker() : t([this] { run(); }) {}
	~Worker()
	{
		step([] {});
		{
			std::lock_guard<std::mutex> lk(mu);
			quit = true;
		}
		cv.notify_all();
		t.join();
	}
	// Runs f on the worker and waits until it has.
	void step(std::function<void()> f)
	{
		std::unique_lock<std::mutex> lk(mu);
		job = std::move(f);
		cv.notify_all();
		cv.wait(lk, [this] { return !job; });
	}
	pid_t tid = 0;

private:
	void run()
	{
		std::unique_lock<std::mutex> lk(mu);
		tid = ms_thread_id();
		for (;;) {
			cv.wait(lk, [this] { return quit || job; });
			if (quit)
				return;
			job();
			job = nullptr;
			cv.notify_all();
		}
	}
	std::mutex mu;
	std::condition_variable cv;
	std::function<void()> job;
	bool quit = false;
	std::thread t;
};

TEST(OwnThreads, CpuOfOursFromEntryToLeaveAndNothingElse)
{
	ms_own_threads_forget();
	burn(20 * MS); // this thread is not ours
	EXPECT_EQ(ms_own_threads_cpu_ns(), 0u);

	Worker w;
	uint64_t pre = 0, post = 0, before_leave = 0, after_leave = 0;
	w.step([&] {
		burn(20 * MS); // before it entered: not ours
		pre = thread_cpu();
		ms_own_thread_enter();
		post = thread_cpu();
		burn(40 * MS);
	});
	EXPECT_TRUE(ms_own_thread_is(w.tid));
	EXPECT_EQ(ms_own_thread_count(), 1u);

	uint64_t now_lo = 0, now_hi = 0;
	ASSERT_EQ(ms_clock_thread_cpu_ns(w.tid, &now_lo), 0);
	uint64_t running = ms_own_threads_cpu_ns();
	ASSERT_EQ(ms_clock_thread_cpu_ns(w.tid, &now_hi), 0);
	EXPECT_GE(running, now_lo - post);
	EXPECT_LE(running, now_hi - pre);
	EXPECT_GE(running, 40 * MS);

	burn(20 * MS); // ours stays where it was while only this thread works
	uint64_t idle = ms_own_threads_cpu_ns();
	EXPECT_LT(idle - running, 5 * MS);

	w.step([&] {
		burn(10 * MS);
		before_leave = thread_cpu();
		ms_own_thread_leave();
		after_leave = thread_cpu();
	});
	EXPECT_FALSE(ms_own_thread_is(w.tid));
	EXPECT_EQ(ms_own_thread_count(), 0u);
	uint64_t left = ms_own_threads_cpu_ns();
	EXPECT_GE(left, before_leave - post);
	EXPECT_LE(left, after_leave - pre);

	// The thread lives on as one of the program's: nothing more is ours.
	w.step([] { burn(20 * MS); });
	EXPECT_EQ(ms_own_threads_cpu_ns(), left);

	// Entering again counts from there on, added to what it had.
	uint64_t pre2 = 0, post2 = 0, before2 = 0, after2 = 0;
	w.step([&] {
		pre2 = thread_cpu();
		ms_own_thread_enter();
		post2 = thread_cpu();
		burn(15 * MS);
		before2 = thread_cpu();
		ms_own_thread_leave();
		after2 = thread_cpu();
	});
	uint64_t twice = ms_own_threads_cpu_ns();
	EXPECT_GE(twice, (before_leave - post) + (before2 - post2));
	EXPECT_LE(twice, (after_leave - pre) + (after2 - pre2));

	ms_own_threads_forget();
	EXPECT_EQ(ms_own_threads_cpu_ns(), 0u);
}

// A thread of ours that ended keeps its time in the sum: the figure never
// goes back, and ends exactly bracketed, however threads come and go
// while it is summed.
TEST(OwnThreads, ThreadsComingAndGoingNeverTakeTimeBack)
{
	const int T = 4, ROUNDS = 40;
	std::atomic<int> running{ T };
	std::vector<uint64_t> lo(T), hi(T);
	std::vector<std::thread> threads;

	ms_own_threads_forget();
	for (int k = 0; k < T; k++)
		threads.emplace_back([&, k] {
			for (int i = 0; i < ROUNDS; i++) {
				uint64_t pre = thread_cpu();
				ms_own_thread_enter();
				uint64_t post = thread_cpu();
				burn(MS / 2);
				uint64_t before = thread_cpu();
				ms_own_thread_leave();
				uint64_t after = thread_cpu();
				lo[k] += before - post;
				hi[k] += after - pre;
				burn(MS / 4); // not ours
			}
			running--;
		});
	uint64_t last = 0, sums = 0;
	while (running > 0) {
		uint64_t now = ms_own_threads_cpu_ns();
		EXPECT_GE(now, last);
		last = now;
		sums++;
	}
	for (std::thread &t : threads)
		t.join();
	uint64_t low = 0, high = 0;
	for (int k = 0; k < T; k++) {
		low += lo[k];
		high += hi[k];
	}
	uint64_t total = ms_own_threads_cpu_ns();
	EXPECT_GE(total, last);
	EXPECT_GE(total, low);
	EXPECT_LE(total, high);
	EXPECT_GE(low, (uint64_t)T * ROUNDS * MS / 2);
	EXPECT_GT(sums, 0u);
	EXPECT_EQ(ms_own_thread_count(), 0u);
	ms_own_threads_forget();
}

} // namespace
