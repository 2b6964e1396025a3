#include "json.h"

#include <cstdlib>
#include <sstream>

namespace mstest {
namespace {

// A strict RFC 8259 reader: any deviation (bad escape, raw control byte,
// invalid UTF-8, lone surrogate, bad number, duplicate key, trailing
// garbage) throws, so a malformed frame fails the test that reads it.
class Parser {
public:
	explicit Parser(const std::string &src) : s(src) {}

	Json document()
	{
		Json v = value();

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
		throw std::runtime_error("json: " + what + " at byte " + std::to_string(i));
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

	Json value()
	{
		Json v;

		ws();
		switch (peek()) {
		case '{':
			v.type = Json::Type::Object;
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
			v.type = Json::Type::Array;
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
			v.type = Json::Type::String;
			v.text = string();
			return v;
		case 't':
			literal("true");
			v.type = Json::Type::Bool;
			v.boolean = true;
			return v;
		case 'f':
			literal("false");
			v.type = Json::Type::Bool;
			return v;
		case 'n':
			literal("null");
			return v;
		default:
			v.type = Json::Type::Number;
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

} // namespace

Json Json::parse(const std::string &src)
{
	return Parser(src).document();
}

const Json &Json::operator[](const std::string &key) const
{
	auto it = fields.find(key);

	if (type != Type::Object || it == fields.end())
		throw std::runtime_error("json: no field " + key);
	return it->second;
}

const Json &Json::operator[](size_t i) const
{
	if (type != Type::Array || i >= items.size())
		throw std::runtime_error("json: index out of range");
	return items[i];
}

uint64_t Json::u64() const
{
	if (type != Type::Number || text.find_first_of(".eE-") != std::string::npos)
		throw std::runtime_error("json: not an unsigned integer: " + text);
	return std::stoull(text);
}

int64_t Json::i64() const
{
	if (type != Type::Number || text.find_first_of(".eE") != std::string::npos)
		throw std::runtime_error("json: not an integer: " + text);
	return std::stoll(text);
}

double Json::num() const
{
	if (type != Type::Number)
		throw std::runtime_error("json: not a number");
	return std::strtod(text.c_str(), nullptr);
}

const std::string &Json::str() const
{
	if (type != Type::String)
		throw std::runtime_error("json: not a string");
	return text;
}

std::vector<Json> json_lines(const std::string &text)
{
	std::vector<Json> out;
	std::istringstream in(text);
	std::string line;

	while (std::getline(in, line))
		if (!line.empty() && line[0] == '{')
			out.push_back(Json::parse(line));
	return out;
}

Json last_json_line(const std::string &text)
{
	std::vector<Json> all = json_lines(text);

	if (all.empty())
		throw std::runtime_error("no JSON line in output:\n" + text);
	return all.back();
}

} // namespace mstest
