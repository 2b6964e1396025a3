// A small, strict JSON reader for tests: enough to check memscope's frames
// field by field, and strict (RFC 8259, valid UTF-8) so that a malformed
// frame fails the test rather than being read charitably.
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
	std::string text; // the number's literal, or the string's decoded UTF-8 value
	std::vector<Json> items;
	std::map<std::string, Json> fields;

	// Throws std::runtime_error on anything that is not strict JSON: bad
	// escapes or numbers, raw control bytes, invalid UTF-8, lone surrogates,
	// duplicate keys, trailing bytes. \u escapes (and surrogate pairs) are
	// decoded to UTF-8.
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
