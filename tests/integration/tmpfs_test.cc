// A full tmpfs must not hurt the program: the hook makes no session (or
// stops growing its tables) rather than let a write fault with SIGBUS.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <string>

#include <memscope/sessions.h>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

class FullTmpfs : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "mounting a small tmpfs needs root (CI runs as root)";
		dir = mstest::temp_dir("tiny");
	}
	void TearDown() override
	{
		if (mounted)
			umount(dir.c_str());
	}
	void mount_kib(int kib)
	{
		std::string opts = "size=" + std::to_string(kib) + "k";
		ASSERT_EQ(mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()), 0);
		mounted = true;
	}
	std::string dir;
	bool mounted = false;
};

TEST_F(FullTmpfs, NoRoomForASessionChangesNothing)
{
	mount_kib(400); // less than a session needs to start
	std::vector<std::string> cmd = { mstest::workload("sites") };
	mstest::Result plain = mstest::run(cmd);
	mstest::Result hooked = mstest::run(cmd, { "LD_PRELOAD=" + mstest::hook_path(),
						   "MEMSCOPE_DIR=" + dir });
	EXPECT_EQ(hooked.status, plain.status);
	EXPECT_EQ(hooked.out, plain.out);
	EXPECT_EQ(hooked.err, plain.err);
	ms_session_entry *list;
	EXPECT_EQ(ms_session_list(dir.c_str(), &list), 0);
	free(list);
}

TEST_F(FullTmpfs, TablesStopGrowingInsteadOfFaulting)
{
	// Room to start, not for 20,000 call sites: the program still runs to
	// its end and every allocation is counted, the rest under "(no stack)".
	mount_kib(1600);
	mstest::Result r = mstest::run({ mstest::top_path(), "-b", "--json", "--sites", "0", "--",
					 mstest::runfile("tests/bench/many_sites"), "20000" },
				       { "MEMSCOPE_DIR=" + dir });
	EXPECT_EQ(r.status, 0) << r.err;
	mstest::Json f = mstest::last_json_line(r.out);
	EXPECT_EQ(f["state"].str(), "exited");
	uint64_t allocs = 0;
	bool no_stack = false;
	for (const mstest::Json &c : f["callsites"].items) {
		allocs += c["total_allocs"].u64();
		no_stack |= c["function"].str() == "(no stack)";
	}
	EXPECT_EQ(allocs, f["total_allocs"].u64());
	EXPECT_TRUE(no_stack);
	EXPECT_GE(f["total_allocs"].u64(), 20000u);
}

} // namespace
