// frame: a hand-built snapshot printed as JSON (read back with the strict
// mstest::Json parser, field by field) and as text; ms_format_bytes and
// ms_format_command.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tui/frame.h"
#include <memscope/snapshot.h>

#include "tests/support/json.h"

namespace {

using mstest::Json;

// What one of the frame printers writes for s, as a string.
std::string print(void (*printer)(FILE *, const ms_snapshot *, const ms_frame_extra *),
		  const ms_snapshot &s, int exit_status)
{
	ms_frame_extra x{};
	x.exit_status = exit_status;
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == nullptr)
		throw std::runtime_error("open_memstream");
	printer(f, &s, &x);
	fclose(f);
	std::string out(buf, len);
	free(buf);
	return out;
}

std::string print_json(const ms_snapshot &s, int exit_status = -1)
{
	return print(ms_frame_print_json, s, exit_status);
}

std::string print_text(const ms_snapshot &s, int exit_status = -1)
{
	return print(ms_frame_print_text, s, exit_status);
}

ms_thread_info thread(pid_t tid, const char *name, uint64_t allocs, uint64_t frees,
		      uint64_t alloc_bytes, uint64_t live_bytes)
{
	ms_thread_info t{};

	t.tid = tid;
	snprintf(t.name, sizeof(t.name), "%s", name);
	t.allocs = allocs;
	t.frees = frees;
	t.alloc_bytes = alloc_bytes;
	t.free_bytes = alloc_bytes - live_bytes;
	t.live_bytes = live_bytes;
	t.live_allocs = allocs - frees;
	return t;
}

class Frame : public ::testing::Test {
protected:
	void SetUp() override
	{
		threads[0] = thread(4242, "main", 10, 4, 6000, 2500);
		threads[1] = thread(4243, "worker-1", 7, 7, 700, 0);
		threads[2] = thread(4250, "io pool", 1, 0, 5000000000ull, 5000000000ull);
		s.pid = 4242;
		s.ppid = 1;
		s.generation = 2;
		snprintf(s.command, sizeof(s.command), "%s", "./app --flag x");
		s.state = MS_SESSION_RUNNING;
		s.time_s = 12.5;
		s.live_bytes = 5000002500ull;
		s.live_allocs = 7;
		s.peak_bytes = 6000000000ull;
		s.peak_time_s = 3.25;
		s.total_allocs = 18;
		s.total_frees = 11;
		s.total_reallocs = 3;
		s.total_bytes = 5000006700ull;
		s.rss_bytes = 123456789;
		s.cpu_percent = 37.5;
		s.memscope_cpu_percent = 6.5;
		s.dropped_events = 9;
		s.untracked_frees = 1;
		s.nthreads = 3;
		s.threads = threads;
		s.nsamples = 0;
		s.samples = nullptr;
	}
	ms_thread_info threads[3];
	ms_snapshot s{};
};

void expect_u64(const Json &obj, const char *key, uint64_t want)
{
	const Json &v = obj[key];

	EXPECT_EQ(v.type, Json::Type::Number) << key;
	EXPECT_EQ(v.text, std::to_string(want)) << key;
}

void expect_num(const Json &obj, const char *key, double want)
{
	const Json &v = obj[key];

	ASSERT_EQ(v.type, Json::Type::Number) << key;
	EXPECT_EQ(strtod(v.text.c_str(), nullptr), want) << key << " = " << v.text;
}

void expect_str(const Json &obj, const char *key, const std::string &want)
{
	const Json &v = obj[key];

	ASSERT_EQ(v.type, Json::Type::String) << key;
	EXPECT_EQ(v.text, want) << key;
}

TEST_F(Frame, JsonIsOneLine)
{
	std::string out = print_json(s);

	ASSERT_FALSE(out.empty());
	EXPECT_EQ(out.back(), '\n');
	EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
	EXPECT_EQ(out.front(), '{');
}

TEST_F(Frame, JsonFields)
{
	std::string out = print_json(s);
	Json v;

	ASSERT_NO_THROW(v = Json::parse(out)) << out;
	ASSERT_EQ(v.type, Json::Type::Object);
	try {
		expect_u64(v, "pid", 4242);
		expect_str(v, "command", "./app --flag x");
		expect_num(v, "time_s", 12.5);
		ASSERT_EQ(v["exited"].type, Json::Type::Bool);
		EXPECT_FALSE(v["exited"].boolean);
		expect_u64(v, "live_bytes", 5000002500ull);
		expect_u64(v, "live_allocs", 7);
		expect_u64(v, "peak_bytes", 6000000000ull);
		expect_num(v, "peak_time_s", 3.25);
		expect_u64(v, "total_allocs", 18);
		expect_u64(v, "total_frees", 11);
		expect_u64(v, "total_bytes", 5000006700ull);
		expect_u64(v, "rss_bytes", 123456789);
		expect_num(v, "cpu_percent", 37.5);
		expect_num(v, "memscope_cpu_percent", 6.5);
		expect_u64(v, "dropped_events", 9);

		const Json &ts = v["threads"];
		ASSERT_EQ(ts.type, Json::Type::Array);
		ASSERT_EQ(ts.items.size(), 3u);
		for (size_t k = 0; k < 3; k++) {
			const Json &t = ts.items[k];
			const ms_thread_info &want = threads[k];

			SCOPED_TRACE(want.name);
			ASSERT_EQ(t.type, Json::Type::Object);
			expect_u64(t, "tid", (uint64_t)want.tid);
			expect_str(t, "name", want.name);
			expect_u64(t, "allocs", want.allocs);
			expect_u64(t, "frees", want.frees);
			expect_u64(t, "alloc_bytes", want.alloc_bytes);
			expect_u64(t, "live_bytes", want.live_bytes);
		}
		ASSERT_EQ(v["callsites"].type, Json::Type::Array);
	} catch (const std::exception &e) {
		FAIL() << e.what() << "\n" << out;
	}
}

TEST_F(Frame, JsonExitedAndNoThreads)
{
	s.state = MS_SESSION_EXITED;
	s.nthreads = 0;
	s.threads = nullptr;
	std::string out = print_json(s, 3);
	Json v;

	ASSERT_NO_THROW(v = Json::parse(out)) << out;
	ASSERT_NO_THROW({
		ASSERT_EQ(v["exited"].type, Json::Type::Bool);
		EXPECT_TRUE(v["exited"].boolean);
		ASSERT_EQ(v["threads"].type, Json::Type::Array);
		EXPECT_TRUE(v["threads"].items.empty());
	}) << out;
}

TEST_F(Frame, JsonEscapes)
{
	snprintf(s.command, sizeof(s.command), "%s",
		 "a\"b\\c\td"
		 "\x01"
		 "e"
		 "\xff"
		 "f");
	snprintf(threads[1].name, sizeof(threads[1].name), "%s", "q\"\\\n");
	std::string out = print_json(s);
	Json v;

	ASSERT_NO_THROW(v = Json::parse(out)) << out;
	ASSERT_NO_THROW({
		expect_str(v, "command",
			   "a\"b\\c\td"
			   "\x01"
			   "e"
			   "\xef\xbf\xbd" // U+FFFD
			   "f");
		expect_str(v["threads"].items.at(1), "name", "q\"\\\n");
	}) << out;
	// Nothing raw that JSON forbids or that is not UTF-8.
	EXPECT_EQ(out.find('\t'), std::string::npos);
	EXPECT_EQ(out.find('\x01'), std::string::npos);
	EXPECT_EQ(out.find('\xff'), std::string::npos);
}

TEST_F(Frame, JsonValidUtf8Unchanged)
{
	const std::string text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"; // héllo € 😀
	snprintf(s.command, sizeof(s.command), "%s", text.c_str());
	std::string out = print_json(s);
	Json v;

	ASSERT_NO_THROW(v = Json::parse(out)) << out;
	ASSERT_NO_THROW(expect_str(v, "command", text)) << out;
	EXPECT_NE(out.find("\"" + text + "\""), std::string::npos) << out; // raw, not escaped
}

TEST_F(Frame, JsonInvalidUtf8Sequences)
{
	// Overlong, surrogate, truncated sequences: each bad byte becomes U+FFFD.
	snprintf(s.command, sizeof(s.command), "%s",
		 "x\xc0\xaf"
		 "y\xed\xa0\x80"
		 "z\xe2\x82");
	std::string out = print_json(s);
	Json v;

	ASSERT_NO_THROW(v = Json::parse(out)) << out;
	const std::string r = "\xef\xbf\xbd";
	ASSERT_NO_THROW(expect_str(v, "command", "x" + r + r + "y" + r + r + r + "z" + r + r))
		<< out;
}

// The checks above (and the integration tests') are only as good as the
// shared mstest::Json parser: it must refuse what is not JSON.
TEST(Parser, RejectsMalformed)
{
	const char *bad[] = {
		"",
		"{",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{\"a\":1}x",
		"{\"a\":1,\"a\":2}",
		"[1 2]",
		"01",
		"1.",
		"-",
		"nul",
		"\"\t\"", // raw tab
		"\"\\x\"",
		"\"\\u12g4\"",
		"\"\\udc00\"",
		"\"\xff\"",
		"\"\xc0\xaf\"",
		"\"abc",
	};

	for (const char *b : bad)
		EXPECT_THROW(Json::parse(b), std::runtime_error) << b;
	Json v = Json::parse(" {\"a\" : [1, -2.5e3, true, null, \"\\u00e9\\ud83d\\ude00\"]} ");
	ASSERT_EQ(v["a"].items.size(), 5u);
	EXPECT_EQ(v["a"].items[1].text, "-2.5e3");
	EXPECT_EQ(v["a"].items[4].text, "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(FormatBytes, Exact)
{
	char buf[32];

	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 0), "0 B");
	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 1), "1 B");
	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 1023), "1023 B");
	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 1024), "1.0 KiB");
	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 1536), "1.5 KiB");
	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 5u * 1024 * 1024), "5.0 MiB");
	EXPECT_STREQ(ms_format_bytes(buf, sizeof(buf), 3ull << 30), "3.0 GiB");
	EXPECT_EQ(ms_format_bytes(buf, sizeof(buf), 1024), buf);
}

TEST_F(Frame, Text)
{
	std::string out = print_text(s);

	EXPECT_NE(out.find("pid 4242"), std::string::npos) << out;
	for (const auto &t : threads)
		EXPECT_NE(out.find(t.name), std::string::npos) << t.name << "\n" << out;
	EXPECT_NE(out.find("./app --flag x"), std::string::npos) << out;
	EXPECT_NE(out.find("CPU 37.5% (memscope 6.5%)"), std::string::npos) << out;
}

TEST(FormatCommand, ControlCharactersAreMadeVisible)
{
	char buf[256];

	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "sh -c echo hi"), "sh -c echo hi");
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "a\nb\tc\rd"), "a\\nb\\tc\\rd");
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "\x1b[2J\x7f\x01"), "\\x1b[2J\\x7f\\x01");
	// UTF-8 stays; C1 controls and bytes that are not UTF-8 do not.
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "caf\xc3\xa9 \xe2\x82\xac"),
		     "caf\xc3\xa9 \xe2\x82\xac");
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "x\xc2\x9b" "1m"), "x\\u009b1m");
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "x\xff\xc3"), "x\\xff\\xc3");
	EXPECT_EQ(ms_format_command(buf, sizeof(buf), "x"), buf);
}

TEST(FormatCommand, CutWholeCharactersAndEscapes)
{
	char buf[6];

	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "abcdefgh"), "abcde");
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "abcd\n"), "abcd"); // not "abcd\\"
	EXPECT_STREQ(ms_format_command(buf, sizeof(buf), "abc\xe2\x82\xac"), "abc");
	EXPECT_STREQ(ms_format_command(buf, 1, "abc"), "");
}

} // namespace
