// frame: a hand-built snapshot printed as JSON (read back with a strict
// parser, field by field) and as text; ms_format_bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <memscope/frame.h>
#include <memscope/snapshot.h>

namespace {

// A strict RFC 8259 reader: any deviation (bad escape, raw control byte,
// invalid UTF-8, duplicate key, trailing garbage) throws.
struct Value {
	enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
	bool boolean = false;
	std::string text; // a number's literal or a string's decoded value
	std::vector<Value> items;
	std::map<std::string, Value> fields;

	const Value &at(const std::string &key) const
	{
		auto it = fields.find(key);

		if (type != Type::Object || it == fields.end())
			throw std::runtime_error("no key " + key);
		return it->second;
	}
};

class Parser {
public:
	explicit Parser(const std::string &src) : s(src) {}

	Value document()
	{
		Value v = value();

		ws();
		if (i != s.size())
			fail("trailing bytes");
		return v;
	}

private:
	const std::string &s;
	size_t i = 0;

	[[noreturn]] void fail(const std::string &what)
	{
		throw std::runtime_error(what + " at byte " + std::to_string(i));
	}
	int peek() const { return i < s.size() ? (unsigned char)s[i] : -1; }
	void ws()
	{
		while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')
			i++;
	}
	void expect(char c)
	{
		if (peek() != (unsigned char)c)
			fail(std::string("expected '") + c + "'");
		i++;
	}
	void literal(const char *word)
	{
		for (const char *p = word; *p != '\0'; p++)
			expect(*p);
	}

	Value value()
	{
		Value v;

		ws();
		switch (peek()) {
		case '{':
			v.type = Value::Type::Object;
			i++;
			ws();
			if (peek() == '}') {
				i++;
				return v;
			}
			for (;;) {
				ws();
				std::string key = string();
				ws();
				expect(':');
				if (v.fields.count(key) != 0)
					fail("duplicate key " + key);
				v.fields[key] = value();
				ws();
				if (peek() == ',') {
					i++;
					continue;
				}
				expect('}');
				return v;
			}
		case '[':
			v.type = Value::Type::Array;
			i++;
			ws();
			if (peek() == ']') {
				i++;
				return v;
			}
			for (;;) {
				v.items.push_back(value());
				ws();
				if (peek() == ',') {
					i++;
					continue;
				}
				expect(']');
				return v;
			}
		case '"':
			v.type = Value::Type::String;
			v.text = string();
			return v;
		case 't':
			literal("true");
			v.type = Value::Type::Bool;
			v.boolean = true;
			return v;
		case 'f':
			literal("false");
			v.type = Value::Type::Bool;
			return v;
		case 'n':
			literal("null");
			return v;
		default:
			v.type = Value::Type::Number;
			v.text = number();
			return v;
		}
	}

	std::string number()
	{
		size_t start = i;

		if (peek() == '-')
			i++;
		if (peek() == '0') {
			i++;
		} else if (peek() >= '1' && peek() <= '9') {
			while (peek() >= '0' && peek() <= '9')
				i++;
		} else {
			fail("bad value");
		}
		if (peek() == '.') {
			i++;
			if (!(peek() >= '0' && peek() <= '9'))
				fail("bad fraction");
			while (peek() >= '0' && peek() <= '9')
				i++;
		}
		if (peek() == 'e' || peek() == 'E') {
			i++;
			if (peek() == '+' || peek() == '-')
				i++;
			if (!(peek() >= '0' && peek() <= '9'))
				fail("bad exponent");
			while (peek() >= '0' && peek() <= '9')
				i++;
		}
		return s.substr(start, i - start);
	}

	unsigned hex4()
	{
		unsigned v = 0;

		for (int k = 0; k < 4; k++) {
			int c = peek();

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				fail("bad \\u escape");
			i++;
		}
		return v;
	}

	static void put_utf8(std::string &out, unsigned cp)
	{
		if (cp < 0x80) {
			out += (char)cp;
		} else if (cp < 0x800) {
			out += (char)(0xc0 | (cp >> 6));
			out += (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out += (char)(0xe0 | (cp >> 12));
			out += (char)(0x80 | ((cp >> 6) & 0x3f));
			out += (char)(0x80 | (cp & 0x3f));
		} else {
			out += (char)(0xf0 | (cp >> 18));
			out += (char)(0x80 | ((cp >> 12) & 0x3f));
			out += (char)(0x80 | ((cp >> 6) & 0x3f));
			out += (char)(0x80 | (cp & 0x3f));
		}
	}

	// One raw UTF-8 sequence, validated (no overlongs, no surrogates).
	void raw_utf8(std::string &out)
	{
		unsigned char c = (unsigned char)s[i];
		size_t len;
		unsigned cp;

		if (c < 0x80) {
			len = 1, cp = c;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07u;
		} else {
			fail("invalid UTF-8 lead byte");
		}
		if (i + len > s.size())
			fail("truncated UTF-8");
		for (size_t k = 1; k < len; k++) {
			unsigned char cc = (unsigned char)s[i + k];

			if ((cc & 0xc0) != 0x80)
				fail("invalid UTF-8 continuation");
			cp = (cp << 6) | (cc & 0x3fu);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			fail("invalid UTF-8 code point");
		out.append(s, i, len);
		i += len;
	}

	std::string string()
	{
		std::string out;

		expect('"');
		for (;;) {
			int c = peek();

			if (c < 0)
				fail("unterminated string");
			if (c == '"') {
				i++;
				return out;
			}
			if (c < 0x20)
				fail("raw control byte in string");
			if (c != '\\') {
				raw_utf8(out);
				continue;
			}
			i++;
			c = peek();
			i++;
			switch (c) {
			case '"':
				out += '"';
				break;
			case '\\':
				out += '\\';
				break;
			case '/':
				out += '/';
				break;
			case 'b':
				out += '\b';
				break;
			case 'f':
				out += '\f';
				break;
			case 'n':
				out += '\n';
				break;
			case 'r':
				out += '\r';
				break;
			case 't':
				out += '\t';
				break;
			case 'u': {
				unsigned cp = hex4();

				if (cp >= 0xdc00 && cp <= 0xdfff)
					fail("lone low surrogate");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					expect('\\');
					expect('u');
					unsigned lo = hex4();

					if (lo < 0xdc00 || lo > 0xdfff)
						fail("bad surrogate pair");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				put_utf8(out, cp);
				break;
			}
			default:
				i--;
				fail("bad escape");
			}
		}
	}
};

Value parse(const std::string &text)
{
	return Parser(text).document();
}

std::string print_json(const ms_snapshot &s, int exit_status = -1)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == nullptr)
		throw std::runtime_error("open_memstream");
	ms_frame_print_json(f, &s, exit_status);
	fclose(f);
	std::string out(buf, len);
	free(buf);
	return out;
}

std::string print_text(const ms_snapshot &s, int exit_status = -1)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == nullptr)
		throw std::runtime_error("open_memstream");
	ms_frame_print_text(f, &s, exit_status);
	fclose(f);
	std::string out(buf, len);
	free(buf);
	return out;
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

void expect_u64(const Value &obj, const char *key, uint64_t want)
{
	const Value &v = obj.at(key);

	EXPECT_EQ(v.type, Value::Type::Number) << key;
	EXPECT_EQ(v.text, std::to_string(want)) << key;
}

void expect_num(const Value &obj, const char *key, double want)
{
	const Value &v = obj.at(key);

	ASSERT_EQ(v.type, Value::Type::Number) << key;
	EXPECT_EQ(strtod(v.text.c_str(), nullptr), want) << key << " = " << v.text;
}

void expect_str(const Value &obj, const char *key, const std::string &want)
{
	const Value &v = obj.at(key);

	ASSERT_EQ(v.type, Value::Type::String) << key;
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
	Value v;

	ASSERT_NO_THROW(v = parse(out)) << out;
	ASSERT_EQ(v.type, Value::Type::Object);
	try {
		expect_u64(v, "pid", 4242);
		expect_str(v, "command", "./app --flag x");
		expect_num(v, "time_s", 12.5);
		ASSERT_EQ(v.at("exited").type, Value::Type::Bool);
		EXPECT_FALSE(v.at("exited").boolean);
		expect_u64(v, "live_bytes", 5000002500ull);
		expect_u64(v, "live_allocs", 7);
		expect_u64(v, "peak_bytes", 6000000000ull);
		expect_num(v, "peak_time_s", 3.25);
		expect_u64(v, "total_allocs", 18);
		expect_u64(v, "total_frees", 11);
		expect_u64(v, "total_bytes", 5000006700ull);
		expect_u64(v, "rss_bytes", 123456789);
		expect_num(v, "cpu_percent", 37.5);
		expect_u64(v, "dropped_events", 9);

		const Value &ts = v.at("threads");
		ASSERT_EQ(ts.type, Value::Type::Array);
		ASSERT_EQ(ts.items.size(), 3u);
		for (size_t k = 0; k < 3; k++) {
			const Value &t = ts.items[k];
			const ms_thread_info &want = threads[k];

			SCOPED_TRACE(want.name);
			ASSERT_EQ(t.type, Value::Type::Object);
			expect_u64(t, "tid", (uint64_t)want.tid);
			expect_str(t, "name", want.name);
			expect_u64(t, "allocs", want.allocs);
			expect_u64(t, "frees", want.frees);
			expect_u64(t, "alloc_bytes", want.alloc_bytes);
			expect_u64(t, "live_bytes", want.live_bytes);
		}
		ASSERT_EQ(v.at("callsites").type, Value::Type::Array);
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
	Value v;

	ASSERT_NO_THROW(v = parse(out)) << out;
	ASSERT_NO_THROW({
		ASSERT_EQ(v.at("exited").type, Value::Type::Bool);
		EXPECT_TRUE(v.at("exited").boolean);
		ASSERT_EQ(v.at("threads").type, Value::Type::Array);
		EXPECT_TRUE(v.at("threads").items.empty());
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
	Value v;

	ASSERT_NO_THROW(v = parse(out)) << out;
	ASSERT_NO_THROW({
		expect_str(v, "command",
			   "a\"b\\c\td"
			   "\x01"
			   "e"
			   "\xef\xbf\xbd" // U+FFFD
			   "f");
		expect_str(v.at("threads").items.at(1), "name", "q\"\\\n");
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
	Value v;

	ASSERT_NO_THROW(v = parse(out)) << out;
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
	Value v;

	ASSERT_NO_THROW(v = parse(out)) << out;
	const std::string r = "\xef\xbf\xbd";
	ASSERT_NO_THROW(expect_str(v, "command", "x" + r + r + "y" + r + r + r + "z" + r + r))
		<< out;
}

// The checks above are only as good as the parser: it must refuse what is
// not JSON.
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
		EXPECT_THROW(parse(b), std::runtime_error) << b;
	Value v = parse(" {\"a\" : [1, -2.5e3, true, null, \"\\u00e9\\ud83d\\ude00\"]} ");
	ASSERT_EQ(v.at("a").items.size(), 5u);
	EXPECT_EQ(v.at("a").items[1].text, "-2.5e3");
	EXPECT_EQ(v.at("a").items[4].text, "\xc3\xa9\xf0\x9f\x98\x80");
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
}

} // namespace
