#include "run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mstest {

std::string runfile(const std::string &rel)
{
	const char *root = getenv("TEST_SRCDIR");
	std::string base = root ? std::string(root) + "/memscope/" : std::string();

	return base + rel;
}

std::string hook_path() { return runfile("hooks/libmemscope.so"); }
// tests/run's sanitizer pass sets MEMSCOPE_TEST_TOP and MEMSCOPE_TEST_REPORT
// to memscope-top and memscope-report built with AddressSanitizer+UBSan:
// the tools under test then run sanitized, while the hook they preload into
// the (plain) workloads is this build's.
static std::string from_env(const char *name, const std::string &fallback)
{
	const char *p = getenv(name);
	return p != nullptr && *p != '\0' ? p : fallback;
}

std::string top_path() { return from_env("MEMSCOPE_TEST_TOP", runfile("tui/memscope-top")); }
std::string report_path()
{
	return from_env("MEMSCOPE_TEST_REPORT", runfile("tui/memscope-report"));
}
std::string workload(const std::string &name) { return runfile("tests/workloads/" + name); }

std::string temp_dir(const std::string &prefix)
{
	const char *base = getenv("TEST_TMPDIR");
	std::string templ = std::string(base != nullptr ? base : "/tmp") + "/" + prefix + "-XXXXXX";
	std::vector<char> buf(templ.begin(), templ.end());

	buf.push_back('\0');
	// An exception rather than a gtest check: this library has no gtest,
	// and the test fails all the same.
	if (mkdtemp(buf.data()) == nullptr)
		throw std::runtime_error("mkdtemp " + templ + ": " + strerror(errno));
	return buf.data();
}

std::string fresh_session_dir(const std::string &name)
{
	const char *tmp = getenv("TEST_TMPDIR");
	std::string dir = std::string(tmp ? tmp : "/tmp") + "/sessions-" + name + "-" +
			  std::to_string(getpid());

	mkdir(dir.c_str(), 0700);
	setenv("MEMSCOPE_DIR", dir.c_str(), 1);
	return dir;
}

double now_s()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int decode(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static pid_t spawn(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra,
		   int in_fd, int out_fd, int err_fd, int close_a, int close_b)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	if (close_a >= 0)
		close(close_a);
	if (close_b >= 0)
		close(close_b);
	// A sanitized memscope-top is not beside this build's hook: name it.
	if (getenv("MEMSCOPE_TEST_TOP") != nullptr && getenv("MEMSCOPE_LIB") == nullptr)
		setenv("MEMSCOPE_LIB", hook_path().c_str(), 1);
	for (const std::string &kv : env_extra)
		putenv(strdup(kv.c_str()));
	std::vector<char *> args;
	for (const std::string &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	execvp(args[0], args.data());
	_exit(127);
}

Result run(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra,
	   const std::string &stdin_data, double timeout_s)
{
	int in[2], out[2], err[2];
	Result r;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		throw std::runtime_error("pipe failed");
	pid_t pid = spawn(argv, env_extra, in[0], out[1], err[1], -1, -1);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	size_t written = 0;
	if (stdin_data.empty()) {
		close(in[1]);
		in[1] = -1;
	}
	double deadline = now_s() + timeout_s;
	int open_fds = 2;
	while (open_fds > 0) {
		// Closed descriptors are -1, which poll() skips.
		struct pollfd p[3] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		int left = (int)((deadline - now_s()) * 1000);

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, nullptr, 0);
			r.status = -1;
			r.err += "\n[test harness: timed out]";
			close(out[0]);
			close(err[0]);
			if (in[1] >= 0)
				close(in[1]);
			return r;
		}
		poll(p, 3, left);
		for (int k = 0; k < 2; k++) {
			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char buf[65536];
			ssize_t n = read(p[k].fd, buf, sizeof(buf));
			if (n > 0) {
				(k == 0 ? r.out : r.err).append(buf, n);
			} else if (n == 0 || errno != EINTR) {
				close(p[k].fd);
				(k == 0 ? out[0] : err[0]) = -1;
				open_fds--;
			}
		}
		if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in[1], stdin_data.data() + written, stdin_data.size() - written);
			if (n > 0)
				written += n;
			if (n < 0 || written == stdin_data.size()) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r.status = decode(status);
	if (in[1] >= 0)
		close(in[1]);
	return r;
}

Child start(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra)
{
	int in[2], out[2];
	Child c;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		throw std::runtime_error("pipe failed");
	c.pid = spawn(argv, env_extra, in[0], out[1], 2, -1, -1);
	close(in[0]);
	close(out[1]);
	c.out_fd = out[0];
	c.in_fd = in[1];
	return c;
}

std::string Child::read_line(double timeout_s)
{
	std::string line;
	double deadline = now_s() + timeout_s;

	for (;;) {
		struct pollfd p = { out_fd, POLLIN, 0 };
		int left = (int)((deadline - now_s()) * 1000);
		char c;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			throw std::runtime_error("child: no line within the timeout (so far: " + line + ")");
		ssize_t n = read(out_fd, &c, 1);
		if (n <= 0)
			throw std::runtime_error("child: stdout closed (so far: " + line + ")");
		if (c == '\n')
			return line;
		line += c;
	}
}

void Child::write_line(const std::string &line)
{
	std::string l = line + "\n";
	if (write(in_fd, l.data(), l.size()) != (ssize_t)l.size())
		throw std::runtime_error("child: write failed");
}

int Child::wait()
{
	int status;

	if (in_fd >= 0)
		close(in_fd);
	in_fd = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out_fd >= 0)
		close(out_fd);
	out_fd = -1;
	return decode(status);
}

std::string read_file(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	std::stringstream ss;

	ss << f.rdbuf();
	return ss.str();
}

} // namespace mstest
