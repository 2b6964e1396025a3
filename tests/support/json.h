// A small JSON reader for tests: enough to check memscope's frames field by
// field, strict enough that a malformed frame fails the test.
#ifndef MEMSCOPE_TESTS_JSON_H
#define MEMSCOPE_TESTS_JSON_H

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mstest {

struct Json {
	enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
	bool boolean = false;
	std::string text; // the number's literal, or the string's value
	std::vector<Json> items;
	std::map<std::string, Json> fields;

	// Throws std::runtime_error on malformed input or trailing garbage.
	static Json parse(const std::string &src);

	const Json &operator[](const std::string &key) const;
	const Json &operator[](size_t i) const;
	bool has(const std::string &key) const { return fields.count(key) != 0; }
	uint64_t u64() const;
	int64_t i64() const;
	double num() const;
	const std::string &str() const;
	size_t size() const { return type == Type::Array ? items.size() : fields.size(); }
};

// The last line of text that parses as a JSON object; throws if none.
Json last_json_line(const std::string &text);
// Every line that starts with '{', parsed.
std::vector<Json> json_lines(const std::string &text);

} // namespace mstest

#endif
