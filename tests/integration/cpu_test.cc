// The CPU figures of batch frames: cpu_percent is the program's, without
// memscope's own threads in it (the sampler, a backend's drain), and
// memscope_cpu_percent is theirs, so that a user sees what watching costs.
// The workload is one thread allocating flat out: it can use one core at
// most, whatever the backend does beside it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// The CPU figures are sampled clocks read microseconds apart: this much
// over 100% is reading, not work.
const double kSlack = 0.5;

void one_busy_thread(const std::string &backend)
{
	mstest::fresh_session_dir("cpu-" + (backend.empty() ? std::string("default") : backend));
	std::vector<std::string> env;
	if (!backend.empty())
		env.push_back("MEMSCOPE_BACKEND=" + backend);
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "-d", "0.2", "--",
					 mstest::workload("busy"), "2" },
				       env);
	ASSERT_EQ(r.status, 0) << r.err;
	std::vector<Json> frames = mstest::json_lines(r.out);
	ASSERT_GE(frames.size(), 5u) << r.out;
	double program = 0, ours = 0;
	for (const Json &f : frames) {
		ASSERT_TRUE(f.has("memscope_cpu_percent")) << r.out;
		double cpu = f["cpu_percent"].num(), own = f["memscope_cpu_percent"].num();
		EXPECT_LE(cpu, 100.0 + kSlack) << "at " << f["time_s"].num() << "s";
		EXPECT_GE(cpu, 0.0);
		EXPECT_GE(own, 0.0);
		program = std::max(program, cpu);
		ours = std::max(ours, own);
	}
	EXPECT_GT(program, 25.0); // it was busy, and that shows
	// A million allocations a second keep async's drain working: watching
	// them is not free. (The test passes of tests/run choose the backend
	// of the default test; core and lockfree have no drain, and unified,
	// the default, applies the events of a program's only thread on that
	// thread (solo mode): their sampler may well stay under 1%.)
	const char *env_backend = getenv("MEMSCOPE_BACKEND");
	std::string used = !backend.empty() ? backend : env_backend != nullptr ? env_backend : "";
	if (used == "async") {
		EXPECT_GT(ours, 1.0);
	}
	EXPECT_GT(frames.back()["total_allocs"].u64(), 100000u);
}

TEST(Cpu, OneBusyThreadIsAtMostOneCoreWithTheDefaultBackend)
{
	one_busy_thread("");
}

TEST(Cpu, OneBusyThreadIsAtMostOneCoreWithTheDrainThread)
{
	one_busy_thread("async");
}

// Text frames say both figures too.
TEST(Cpu, TextFramesShowMemscopesShare)
{
	mstest::fresh_session_dir("cpu-text");
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "-d", "0.2", "--",
					 mstest::workload("busy"), "0.5" });
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_NE(r.out.find("(memscope "), std::string::npos) << r.out;
}

} // namespace
