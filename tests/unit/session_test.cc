// session: segment names, their parser, and listing a directory of them.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <memscope/sessions.h>

#include "tests/support/run.h"

namespace {

void touch(const std::string &path)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);

	ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
	close(fd);
}

std::string name(uid_t uid, pid_t pid, unsigned gen)
{
	return "memscope-" + std::to_string(uid) + "-" + std::to_string(pid) + "-" +
	       std::to_string(gen);
}

TEST(SessionPath, ExactString)
{
	char buf[256];

	ASSERT_EQ(ms_session_path(buf, sizeof(buf), "/dev/shm", 1000, 4242, 3), 0);
	EXPECT_STREQ(buf, "/dev/shm/memscope-1000-4242-3");
	ASSERT_EQ(ms_session_path(buf, sizeof(buf), "/tmp/x", 0, 1, 0), 0);
	EXPECT_STREQ(buf, "/tmp/x/memscope-0-1-0");
	ASSERT_EQ(ms_session_path(buf, sizeof(buf), "d", 4294967295u, 2147483647, 65535), 0);
	EXPECT_STREQ(buf, "d/memscope-4294967295-2147483647-65535");
}

TEST(SessionPath, ExactFit)
{
	// "/a/memscope-1-2-3" is 17 characters: 18 bytes fit, 17 do not.
	char buf[18];

	ASSERT_EQ(ms_session_path(buf, 18, "/a", 1, 2, 3), 0);
	EXPECT_STREQ(buf, "/a/memscope-1-2-3");
	EXPECT_EQ(ms_session_path(buf, 17, "/a", 1, 2, 3), -ENAMETOOLONG);
}

TEST(SessionPath, TooLongStaysInBuffer)
{
	char buf[32];

	for (size_t len : { 0, 1, 8, 20 }) {
		memset(buf, 'z', sizeof(buf));
		EXPECT_EQ(ms_session_path(buf, len, "/dev/shm", 1000, 4242, 3), -ENAMETOOLONG)
			<< len;
		for (size_t i = len; i < sizeof(buf); i++)
			ASSERT_EQ(buf[i], 'z') << "len " << len << " wrote byte " << i;
	}
}

TEST(SessionParse, RoundTrip)
{
	const struct {
		uid_t uid;
		pid_t pid;
		unsigned gen;
	} cases[] = {
		{ 0, 1, 0 },
		{ 1000, 4242, 3 },
		{ 4294967295u, 2147483647, 65535 },
	};

	for (const auto &c : cases) {
		char path[256];
		uid_t uid = 77;
		pid_t pid = 77;
		unsigned gen = 77;

		ASSERT_EQ(ms_session_path(path, sizeof(path), "/dir", c.uid, c.pid, c.gen), 0);
		ASSERT_EQ(strncmp(path, "/dir/", 5), 0);
		ASSERT_EQ(ms_session_parse_name(path + 5, &uid, &pid, &gen), 0) << path;
		EXPECT_EQ(uid, c.uid);
		EXPECT_EQ(pid, c.pid);
		EXPECT_EQ(gen, c.gen);
	}
}

TEST(SessionParse, RejectsJunk)
{
	const char *junk[] = {
		"",
		"memscope-",
		"memscope-1-2",
		"memscope-1-2-",
		"memscope-a-1-0",
		"memscope-1-0-0",          // pid 0
		"memscope-1-2-3x",
		"memscope-1-2-3-4",
		"xmemscope-1-2-3",
		"Memscope-1-2-3",
		"memscope--1-2-3",
		"memscope-1--2-3",
		"memscope-+1-2-3",
		"memscope- 1-2-3",
		"memscope-1-2- 3",
		"memscope-12345678901-2-3", // 11 digits
		"memscope-1-12345678901-3",
		"memscope-1-2-12345678901",
		"memscope-00000000001-2-3", // 11 digits, small value
		"memscope-4294967296-2-3",  // uid > 32 bits
		"memscope-1-2147483648-3",  // pid > INT_MAX
		"memscope-1-2-70000",       // gen > 65535
		"memscope-1-2-65536",
	};

	for (const char *s : junk) {
		uid_t uid;
		pid_t pid;
		unsigned gen;

		EXPECT_EQ(ms_session_parse_name(s, &uid, &pid, &gen), -EINVAL) << '"' << s << '"';
	}
}

class SessionDir : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir = mstest::temp_dir("session");
		me = geteuid();
		other = me + 1;
		// The caller's, created out of order.
		for (const auto &n : { name(me, 300, 1), name(me, 300, 10), name(me, 20, 5),
				       name(me, 300, 0), name(me, 7, 2) })
			touch(dir + "/" + n);
		// Someone else's, and junk.
		for (const auto &n : { name(other, 25, 0), name(other, 300, 11), name(me, 0, 1),
				       name(me, 300, 70000), "memscope-" + std::to_string(me) + "-8",
				       "memscope-" + std::to_string(me) + "-8-1x",
				       "x" + name(me, 9, 9), std::string("notes.txt") })
			touch(dir + "/" + n);
	}
	void TearDown() override
	{
		std::string cmd = "rm -rf '" + dir + "'";
		EXPECT_EQ(system(cmd.c_str()), 0);
	}
	std::string dir;
	uid_t me = 0, other = 0;
};

TEST_F(SessionDir, ListsOnlyTheCallersSorted)
{
	ms_session_entry *list = nullptr;
	const struct {
		pid_t pid;
		unsigned gen;
	} want[] = { { 7, 2 }, { 20, 5 }, { 300, 0 }, { 300, 1 }, { 300, 10 } };
	int n = ms_session_list(dir.c_str(), &list);

	ASSERT_EQ(n, 5);
	ASSERT_NE(list, nullptr);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(list[i].pid, want[i].pid) << i;
		EXPECT_EQ(list[i].gen, want[i].gen) << i;
		EXPECT_EQ(std::string(list[i].path), dir + "/" + name(me, want[i].pid, want[i].gen))
			<< i;
	}
	free(list);
}

TEST_F(SessionDir, FindNewestGeneration)
{
	char path[512];

	ASSERT_EQ(ms_session_find(dir.c_str(), 300, path, sizeof(path)), 0);
	EXPECT_EQ(std::string(path), dir + "/" + name(me, 300, 10));
	ASSERT_EQ(ms_session_find(dir.c_str(), 20, path, sizeof(path)), 0);
	EXPECT_EQ(std::string(path), dir + "/" + name(me, 20, 5));
	// Absent, or only another user's.
	EXPECT_EQ(ms_session_find(dir.c_str(), 999, path, sizeof(path)), -ENOENT);
	EXPECT_EQ(ms_session_find(dir.c_str(), 25, path, sizeof(path)), -ENOENT);
	EXPECT_EQ(ms_session_find(dir.c_str(), 9, path, sizeof(path)), -ENOENT);
}

TEST_F(SessionDir, EmptyAndMissingDir)
{
	ms_session_entry *list = nullptr;
	std::string empty = dir + "/empty";
	char path[512];

	ASSERT_EQ(mkdir(empty.c_str(), 0700), 0);
	EXPECT_EQ(ms_session_list(empty.c_str(), &list), 0);
	free(list);
	list = nullptr;
	EXPECT_EQ(ms_session_list((dir + "/missing").c_str(), &list), 0);
	free(list);
	EXPECT_EQ(ms_session_find((dir + "/missing").c_str(), 300, path, sizeof(path)), -ENOENT);
}

} // namespace
