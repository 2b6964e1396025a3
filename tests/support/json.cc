#include "json.h"

#include <cstdlib>
#include <sstream>

namespace mstest {
namespace {

struct Parser {
	const std::string &s;
	size_t i = 0;

	[[noreturn]] void fail(const std::string &why)
	{
		throw std::runtime_error("json: " + why + " at offset " + std::to_string(i));
	}
	void ws()
	{
		while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
	}
	bool eat(char c)
	{
		ws();
		if (i < s.size() && s[i] == c) {
			i++;
			return true;
		}
		return false;
	}
	void expect(char c)
	{
		if (!eat(c))
			fail(std::string("expected '") + c + "'");
	}
	std::string string()
	{
		std::string out;

		expect('"');
		while (i < s.size() && s[i] != '"') {
			unsigned char c = (unsigned char)s[i++];

			if (c < 0x20)
				fail("control character in string");
			if (c != '\\') {
				out += (char)c;
				continue;
			}
			if (i >= s.size())
				fail("cut escape");
			char e = s[i++];
			switch (e) {
			case '"': out += '"'; break;
			case '\\': out += '\\'; break;
			case '/': out += '/'; break;
			case 'b': out += '\b'; break;
			case 'f': out += '\f'; break;
			case 'n': out += '\n'; break;
			case 'r': out += '\r'; break;
			case 't': out += '\t'; break;
			case 'u': {
				if (i + 4 > s.size())
					fail("cut \\u escape");
				unsigned cp = std::stoul(s.substr(i, 4), nullptr, 16);
				i += 4;
				if (cp < 0x80) {
					out += (char)cp;
				} else if (cp < 0x800) {
					out += (char)(0xc0 | (cp >> 6));
					out += (char)(0x80 | (cp & 0x3f));
				} else {
					out += (char)(0xe0 | (cp >> 12));
					out += (char)(0x80 | ((cp >> 6) & 0x3f));
					out += (char)(0x80 | (cp & 0x3f));
				}
				break;
			}
			default:
				fail("bad escape");
			}
		}
		expect('"');
		return out;
	}
	Json value()
	{
		Json v;

		ws();
		if (i >= s.size())
			fail("unexpected end");
		char c = s[i];
		if (c == '{') {
			i++;
			v.type = Json::Type::Object;
			if (eat('}'))
				return v;
			do {
				ws();
				std::string k = string();
				expect(':');
				if (v.fields.count(k))
					fail("duplicate key " + k);
				v.fields[k] = value();
			} while (eat(','));
			expect('}');
		} else if (c == '[') {
			i++;
			v.type = Json::Type::Array;
			if (eat(']'))
				return v;
			do {
				v.items.push_back(value());
			} while (eat(','));
			expect(']');
		} else if (c == '"') {
			v.type = Json::Type::String;
			v.text = string();
		} else if (s.compare(i, 4, "true") == 0) {
			i += 4;
			v.type = Json::Type::Bool;
			v.boolean = true;
		} else if (s.compare(i, 5, "false") == 0) {
			i += 5;
			v.type = Json::Type::Bool;
		} else if (s.compare(i, 4, "null") == 0) {
			i += 4;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t start = i;
			i++;
			while (i < s.size() && (isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == 'e' ||
						s[i] == 'E' || s[i] == '+' || s[i] == '-'))
				i++;
			v.type = Json::Type::Number;
			v.text = s.substr(start, i - start);
		} else {
			fail(std::string("unexpected '") + c + "'");
		}
		return v;
	}
};

} // namespace

Json Json::parse(const std::string &src)
{
	Parser p{ src };
	Json v = p.value();

	p.ws();
	if (p.i != src.size())
		p.fail("trailing characters");
	return v;
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
