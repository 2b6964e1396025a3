// python: what makes a program CPython, and which PYTHONMALLOC values and
// arguments leave its own allocator on.
#include <gtest/gtest.h>

#include <string>

#include <memscope/python.h>

namespace {

// A NUL-separated block (environ, cmdline) from its entries.
std::string block(std::initializer_list<const char *> entries)
{
	std::string b;
	for (const char *e : entries) {
		b += e;
		b += '\0';
	}
	return b;
}

int env_own(std::initializer_list<const char *> entries)
{
	std::string b = block(entries);
	return ms_python_env_own_allocator(b.data(), b.size());
}

int args_ignore(std::initializer_list<const char *> args)
{
	std::string b = block(args);
	return ms_python_args_ignore_env(b.data(), b.size());
}

TEST(Python, Paths)
{
	for (const char *p : { "/usr/bin/python3.11", "/usr/bin/python3", "python", "/x/python3.13t",
			       "/x/python3.12d", "/x/python3.7m",
			       "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "libpython3.13t.so" })
		EXPECT_TRUE(ms_python_path(p)) << p;
	for (const char *p : { "/usr/bin/python3-config", "/usr/bin/pythonista", "/bin/sh",
			       "/usr/bin/pypy3", "/opt/python3/bin/node", "" })
		EXPECT_FALSE(ms_python_path(p)) << p;
}

TEST(Python, Pythonmalloc)
{
	EXPECT_TRUE(env_own({}));
	EXPECT_TRUE(env_own({ "HOME=/root", "PATH=/bin" }));
	EXPECT_TRUE(env_own({ "PYTHONMALLOC=" }));
	for (const char *v : { "PYTHONMALLOC=pymalloc", "PYTHONMALLOC=pymalloc_debug",
			       "PYTHONMALLOC=debug", "PYTHONMALLOC=mimalloc",
			       "PYTHONMALLOC=mimalloc_debug" })
		EXPECT_TRUE(env_own({ "A=1", v, "B=2" })) << v;
	for (const char *v : { "PYTHONMALLOC=malloc", "PYTHONMALLOC=malloc_debug",
			       "PYTHONMALLOC=bogus" })
		EXPECT_FALSE(env_own({ "A=1", v })) << v;
	// Only that exact name; the last entry may lack its NUL.
	EXPECT_TRUE(env_own({ "XPYTHONMALLOC=malloc", "PYTHONMALLOCX=malloc" }));
	std::string cut = "A=1";
	cut += '\0';
	cut += "PYTHONMALLOC=malloc";
	EXPECT_FALSE(ms_python_env_own_allocator(cut.data(), cut.size()));
}

TEST(Python, ArgumentsThatIgnoreTheEnvironment)
{
	EXPECT_TRUE(args_ignore({ "python3", "-E", "x.py" }));
	EXPECT_TRUE(args_ignore({ "python3", "-I", "-c", "pass" }));
	EXPECT_TRUE(args_ignore({ "python3", "-sIB", "x.py" }));
	EXPECT_TRUE(args_ignore({ "python3", "-W", "ignore", "-X", "dev", "-E" }));
	EXPECT_TRUE(args_ignore({ "python3", "--check-hash-based-pycs", "always", "-E", "x.py" }));
	EXPECT_FALSE(args_ignore({ "python3" }));
	EXPECT_FALSE(args_ignore({ "python3", "x.py", "-E" }));       // the script's
	EXPECT_FALSE(args_ignore({ "python3", "-c", "pass", "-E" }));  // the command's
	EXPECT_FALSE(args_ignore({ "python3", "-mvenv", "-E" }));     // the module's
	EXPECT_FALSE(args_ignore({ "python3", "-W", "-E" }));         // -W's value
	EXPECT_FALSE(args_ignore({ "python3", "-XE" }));              // -X's value
	EXPECT_FALSE(args_ignore({ "python3", "--", "-E" }));
	EXPECT_FALSE(args_ignore({ "python3", "-", "-E" }));
	EXPECT_FALSE(args_ignore({}));
}

} // namespace
