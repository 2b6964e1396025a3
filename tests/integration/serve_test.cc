// memscope-top --serve: GET /metrics read with a plain socket, checked by
// promtool and scraped by a real Prometheus server; programs coming and
// going while it serves; requests no scraper sends, answered within bounds.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/run.h"

namespace {

using mstest::Json;

// tui_target's alpha_site: 40 blocks of 64 KiB, live to the end.
const char kAlphaBytes[] = "2621440";

int connect_to(int port, double timeout_s = 10)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {};
	struct timeval tv = { (time_t)timeout_s, (suseconds_t)((timeout_s - (time_t)timeout_s) * 1e6) };

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

// Sends all of data, as far as the peer takes it.
void send_all(int fd, const std::string &data)
{
	for (size_t at = 0; at < data.size();) {
		ssize_t n = send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		at += (size_t)n;
	}
}

// Reads until the peer closes, an error, or the socket's timeout.
std::string read_all(int fd)
{
	std::string got;
	char buf[65536];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		got.append(buf, (size_t)n);
	return got;
}

// One request as raw bytes; the raw answer ("" when the server closed or
// reset the connection without one).
std::string request(int port, const std::string &request, double timeout_s = 10)
{
	int fd = connect_to(port, timeout_s);
	if (fd < 0)
		return "";
	send_all(fd, request);
	std::string got = read_all(fd);
	close(fd);
	return got;
}

struct Http {
	int status = 0;
	std::string head, body;
};

Http parse_http(const std::string &raw)
{
	Http h;
	size_t end = raw.find("\r\n\r\n");
	if (raw.compare(0, 9, "HTTP/1.1 ") != 0 && raw.compare(0, 9, "HTTP/1.0 ") != 0)
		return h;
	h.status = atoi(raw.c_str() + 9);
	h.head = raw.substr(0, end);
	if (end != std::string::npos)
		h.body = raw.substr(end + 4);
	return h;
}

Http get(int port, const std::string &path)
{
	return parse_http(request(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
					  "Connection: close\r\n\r\n"));
}

// The value of the sample of metric whose labels include every one of
// labels ("pid=\"12\""), or "" when there is none.
std::string sample(const std::string &body, const std::string &metric,
		   const std::vector<std::string> &labels)
{
	std::istringstream in(body);
	std::string line;

	while (std::getline(in, line)) {
		if (line.compare(0, metric.size() + 1, metric + "{") != 0)
			continue;
		bool all = true;
		for (const std::string &l : labels)
			all = all && line.find(l) != std::string::npos;
		size_t close = line.rfind("} ");
		if (all && close != std::string::npos)
			return line.substr(close + 2);
	}
	return "";
}

std::string pid_label(pid_t pid) { return "pid=\"" + std::to_string(pid) + "\""; }

// The line of a source file that carries "site: NAME".
int marker_line(const std::string &source, const std::string &name)
{
	std::ifstream in(mstest::runfile(source));
	std::string line;
	for (int n = 1; std::getline(in, line); n++)
		if (line.find("site: " + name) != std::string::npos)
			return n;
	return -1;
}

// A TCP port free on 127.0.0.1 a moment ago.
int free_port()
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {};
	socklen_t len = sizeof(a);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

// Stops c; returns its exit status (0 when it was not running).
int stop(mstest::Child &c, int sig = SIGTERM)
{
	int status = 0;

	if (c.pid > 0) {
		kill(c.pid, sig);
		status = c.wait();
		c.pid = -1;
	}
	return status;
}

class Serve : public ::testing::Test {
protected:
	// A directory of sessions a test: a kept session of one test is not
	// the next one's.
	void SetUp() override
	{
		dir = mstest::fresh_session_dir(
			std::string("serve-") +
			::testing::UnitTest::GetInstance()->current_test_info()->name());
	}
	void TearDown() override
	{
		// 0: stopped cleanly (a sanitizer's report would make it 134).
		EXPECT_EQ(stop(server), 0);
		for (mstest::Child *c : { &target, &other })
			if (c->pid > 0) {
				kill(c->pid, SIGKILL);
				c->wait();
				c->pid = -1;
			}
	}
	// memscope-top --serve on a port of its choosing; returns the port.
	int start_server(const std::vector<std::string> &extra = {})
	{
		std::vector<std::string> argv = { mstest::top_path(), "--serve", "127.0.0.1:0", "-d",
						  "0.2" };
		argv.insert(argv.end(), extra.begin(), extra.end());
		server = mstest::start(argv);
		std::string line = server.read_line(30);
		const std::string head = "serving http://127.0.0.1:";
		EXPECT_EQ(line.compare(0, head.size(), head), 0) << line;
		return atoi(line.c_str() + head.size());
	}
	// Scrapes until metric{labels} reads want; returns the last body.
	std::string wait_for(int port, const std::string &metric,
			     const std::vector<std::string> &labels, const std::string &want)
	{
		std::string body;
		for (double end = mstest::now_s() + 30; mstest::now_s() < end; usleep(100000)) {
			Http h = get(port, "/metrics");
			EXPECT_EQ(h.status, 200);
			body = h.body;
			if (sample(body, metric, labels) == want)
				break;
		}
		return body;
	}
	std::string dir;
	mstest::Child server, target, other;
};

TEST_F(Serve, CallSitesOfARunningProgramExactly)
{
	target = mstest::start({ mstest::workload("tui_target"), "120" },
			       { "LD_PRELOAD=" + mstest::hook_path() });
	int port = start_server();
	std::vector<std::string> alpha = { pid_label(target.pid), "function=\"alpha_site\"" };
	std::string body = wait_for(port, "memscope_callsite_live_bytes", alpha, kAlphaBytes);
	ASSERT_EQ(sample(body, "memscope_callsite_live_bytes", alpha), kAlphaBytes) << body;
	EXPECT_EQ(sample(body, "memscope_callsite_allocs_total", alpha), "40") << body;
	EXPECT_NE(body.find("file=\"tests/workloads/tui_target.c\""), std::string::npos) << body;
	// The process's figures hold the call site's, and name the command.
	std::vector<std::string> proc = { pid_label(target.pid), "command=\"" };
	EXPECT_GE(std::stoull(sample(body, "memscope_live_bytes", proc)), 2621440u) << body;
	EXPECT_GE(std::stoull(sample(body, "memscope_peak_bytes", proc)), 2621440u) << body;
	EXPECT_GE(std::stoull(sample(body, "memscope_allocs_total", proc)), 40u) << body;
	EXPECT_GT(std::stoull(sample(body, "memscope_rss_bytes", proc)), 0u) << body;
	EXPECT_EQ(sample(body, "memscope_dropped_events_total", proc), "0") << body;
	EXPECT_NE(body.find("# TYPE memscope_allocs_total counter\n"), std::string::npos);
	EXPECT_NE(body.find("# TYPE memscope_live_bytes gauge\n"), std::string::npos);
	EXPECT_NE(body.find("tui_target 120\"}"), std::string::npos) << body;

	// promtool, Prometheus's own checker, takes the body as it is.
	mstest::Result check = mstest::run({ "promtool", "check", "metrics" }, {}, body);
	EXPECT_EQ(check.status, 0) << check.out << check.err;
	EXPECT_EQ(check.out + check.err, "");

	Http h = get(port, "/metrics");
	EXPECT_NE(h.head.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"),
		  std::string::npos)
		<< h.head;
	Http index = get(port, "/");
	EXPECT_EQ(index.status, 200);
	EXPECT_NE(index.body.find("href=\"/metrics\""), std::string::npos) << index.body;
	// Two requests on one connection: it stays open for the next scrape.
	std::string two = request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	EXPECT_EQ(two.find("HTTP/1.1 200 OK"), 0u);
	EXPECT_NE(two.find("HTTP/1.1 200 OK", 1), std::string::npos) << two;
	EXPECT_EQ(get(port, "/metrics/").status, 404);
	EXPECT_EQ(get(port, "/favicon.ico").status, 404);

	// SIGINT stops it as SIGTERM does: cleanly, status 0.
	kill(server.pid, SIGINT);
	EXPECT_EQ(server.wait(), 0);
	server.pid = -1;
}

TEST_F(Serve, AnEndedProgramIsReportedOnceMoreWithExactFigures)
{
	// sites exits at once; as its keeper, this test keeps its session.
	mstest::Result r = mstest::run({ mstest::workload("sites"), mstest::workload("libplugin.so") },
				       { "LD_PRELOAD=" + mstest::hook_path(),
					 "MEMSCOPE_KEEPER=" + std::to_string(getpid()) });
	ASSERT_EQ(r.status, 0) << r.err;
	int port = start_server({ "--sites", "0" });
	Http first = get(port, "/metrics");
	ASSERT_EQ(first.status, 200);
	std::vector<std::string> small = { "function=\"small_blocks\"",
					   "file=\"tests/workloads/sites.c\"",
					   "line=\"" + std::to_string(marker_line("tests/workloads/sites.c",
										  "small_blocks")) +
						   "\"" };
	EXPECT_EQ(sample(first.body, "memscope_callsite_live_bytes", small), "2400") << first.body;
	EXPECT_EQ(sample(first.body, "memscope_callsite_allocs_total", small), "100");
	std::vector<std::string> big = { "function=\"big_blocks\"" };
	EXPECT_EQ(sample(first.body, "memscope_callsite_live_bytes", big), "16384");
	EXPECT_EQ(sample(first.body, "memscope_callsite_allocs_total", big), "10");
	// Its library was closed before the exit: still named.
	EXPECT_EQ(sample(first.body, "memscope_callsite_live_bytes", { "function=\"plugin_alloc\"" }),
		  "5000");
	// That scrape had its final figures: the next bodies have none of it.
	usleep(600000);
	Http next = get(port, "/metrics");
	ASSERT_EQ(next.status, 200);
	EXPECT_EQ(next.body.find("small_blocks"), std::string::npos) << next.body;
	EXPECT_EQ(next.body.find("memscope_live_bytes{"), std::string::npos) << next.body;
	mstest::Result check = mstest::run({ "promtool", "check", "metrics" }, {}, next.body);
	EXPECT_EQ(check.status, 0) << check.out << check.err;
}

TEST_F(Serve, ProgramsComeAndGoWhileItServes)
{
	int port = start_server();
	Http empty = get(port, "/metrics");
	ASSERT_EQ(empty.status, 200);
	EXPECT_EQ(empty.body.find("memscope_live_bytes{"), std::string::npos) << empty.body;

	target = mstest::start({ mstest::workload("holder"), "1000", "512" },
			       { "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(target.read_line(), "ready");
	std::vector<std::string> hold = { pid_label(target.pid), "function=\"hold\"" };
	std::string body = wait_for(port, "memscope_callsite_live_bytes", hold, "512000");
	ASSERT_EQ(sample(body, "memscope_callsite_live_bytes", hold), "512000") << body;

	// It frees its blocks and exits: the first scrape after has it (its
	// final figures, or the last before them); once gone it stays gone.
	target.write_line("go");
	EXPECT_EQ(target.read_line(), "done");
	EXPECT_EQ(target.wait(), 0);
	pid_t pid = target.pid;
	target.pid = -1;
	std::vector<std::string> proc = { pid_label(pid) };
	std::string last;
	int gone_in_a_row = 0;
	for (double end = mstest::now_s() + 20; mstest::now_s() < end && gone_in_a_row < 5;
	     usleep(250000)) {
		Http h = get(port, "/metrics");
		ASSERT_EQ(h.status, 200);
		if (h.body.find(pid_label(pid)) == std::string::npos) {
			ASSERT_FALSE(last.empty()) << "not in the first scrape after its exit";
			gone_in_a_row++;
			continue;
		}
		ASSERT_EQ(gone_in_a_row, 0) << "back after it was gone:\n" << h.body;
		last = h.body;
	}
	EXPECT_EQ(gone_in_a_row, 5);
	// The last body with it had its final figures.
	EXPECT_EQ(sample(last, "memscope_callsite_live_bytes", hold), "0") << last;
	EXPECT_EQ(sample(last, "memscope_callsite_allocs_total", hold), "1000") << last;
	EXPECT_GE(std::stoull(sample(last, "memscope_frees_total", proc)), 1000u) << last;
}

TEST_F(Serve, DashPServesThatProgramOnly)
{
	target = mstest::start({ mstest::workload("holder"), "100", "1024" },
			       { "LD_PRELOAD=" + mstest::hook_path() });
	ASSERT_EQ(target.read_line(), "ready");
	other = mstest::start({ mstest::workload("tui_target"), "120" },
			      { "LD_PRELOAD=" + mstest::hook_path() });
	int port = start_server({ "-p", std::to_string(target.pid), "--sites", "1" });
	std::vector<std::string> hold = { pid_label(target.pid), "function=\"hold\"" };
	std::string body = wait_for(port, "memscope_callsite_live_bytes", hold, "102400");
	EXPECT_EQ(sample(body, "memscope_callsite_live_bytes", hold), "102400") << body;
	usleep(500000);
	body = get(port, "/metrics").body;
	EXPECT_EQ(body.find(pid_label(other.pid)), std::string::npos) << body;
	// --sites 1: one call site a process.
	size_t sites = 0;
	for (size_t at = 0; (at = body.find("\nmemscope_callsite_live_bytes{", at)) != std::string::npos;
	     at++)
		sites++;
	EXPECT_EQ(sites, 1u) << body;
}

TEST_F(Serve, APrometheusServerScrapesIt)
{
	target = mstest::start({ mstest::workload("tui_target"), "120" },
			       { "LD_PRELOAD=" + mstest::hook_path() });
	int port = start_server();
	std::string tmp = mstest::temp_dir("prometheus");
	std::string config = tmp + "/prometheus.yml";
	{
		std::ofstream f(config);
		f << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		  << "scrape_configs:\n  - job_name: memscope\n    scrape_interval: 1s\n"
		  << "    scrape_timeout: 1s\n    static_configs:\n"
		  << "      - targets: ['127.0.0.1:" << port << "']\n";
	}
	mstest::Child prom;
	int prom_port = -1;
	// Another program may take the port between free_port and its bind.
	for (int attempt = 0; attempt < 3 && prom.pid < 0; attempt++) {
		prom_port = free_port();
		prom = mstest::start({ "prometheus", "--config.file=" + config,
				       "--storage.tsdb.path=" + tmp + "/data",
				       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
				       "--log.level=error" });
		for (double end = mstest::now_s() + 20; mstest::now_s() < end; usleep(200000)) {
			int status;
			if (waitpid(prom.pid, &status, WNOHANG) == prom.pid) {
				prom.pid = -1;
				break;
			}
			if (get(prom_port, "/-/ready").status == 200)
				break;
		}
	}
	ASSERT_GT(prom.pid, 0) << "prometheus did not start";
	// memscope_callsite_live_bytes{function="alpha_site"}, URL-encoded.
	std::string query = "/api/v1/query?query=memscope_callsite_live_bytes%7Bfunction%3D%22"
			    "alpha_site%22%7D";
	std::string value, answer;
	for (double end = mstest::now_s() + 60; mstest::now_s() < end && value != kAlphaBytes;
	     usleep(500000)) {
		Http h = get(prom_port, query);
		if (h.status != 200)
			continue;
		answer = h.body;
		Json j = Json::parse(h.body);
		ASSERT_EQ(j["status"].str(), "success") << h.body;
		const Json &result = j["data"]["result"];
		if (result.size() == 1) {
			EXPECT_EQ(result[0]["metric"]["pid"].str(), std::to_string(target.pid));
			EXPECT_EQ(result[0]["metric"]["job"].str(), "memscope");
			value = result[0]["value"][1].str();
		}
	}
	EXPECT_EQ(value, kAlphaBytes) << answer;
	// The target was scraped without errors.
	Http up = get(prom_port, "/api/v1/query?query=up%7Bjob%3D%22memscope%22%7D");
	EXPECT_NE(up.body.find("\"value\":["), std::string::npos) << up.body;
	EXPECT_NE(up.body.find(",\"1\"]"), std::string::npos) << up.body;
	stop(prom);
}

TEST_F(Serve, HostileRequestsGetBoundedAnswers)
{
	int port = start_server();
	// Closed without an answer, or refused: 4xx (505 for an HTTP version
	// that is not 1.x).
	auto refused_or_4xx = [](const std::string &raw) {
		Http h = parse_http(raw);
		return raw.empty() || (h.status >= 400 && h.status < 500) || h.status == 505;
	};
	auto serving = [&]() {
		Http h = get(port, "/metrics");
		return h.status == 200 &&
		       h.body.find("# TYPE memscope_live_bytes gauge\n") != std::string::npos;
	};
	ASSERT_TRUE(serving());

	// Other methods: 405, with the ones allowed.
	for (const char *method : { "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW" }) {
		Http h = parse_http(request(port, std::string(method) +
							   " /metrics HTTP/1.1\r\nHost: x\r\n"
							   "Content-Length: 5\r\nConnection: close\r\n"
							   "\r\nhello"));
		EXPECT_EQ(h.status, 405) << method;
		EXPECT_NE(h.head.find("\r\nAllow: GET, HEAD"), std::string::npos) << h.head;
	}
	// HEAD: the headers of GET, no body.
	std::string head = request(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	EXPECT_EQ(parse_http(head).status, 200);
	EXPECT_EQ(parse_http(head).body, "");
	// A plain HTTP/1.0 request.
	EXPECT_EQ(parse_http(request(port, "GET /metrics HTTP/1.0\r\n\r\n")).status, 200);

	// A URL of 100 KB, headers by the thousand, a header of 100 KB.
	EXPECT_TRUE(refused_or_4xx(request(port, "GET /" + std::string(100000, 'a') +
							  " HTTP/1.1\r\nHost: x\r\n\r\n")));
	std::string many = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
	for (int i = 0; i < 5000; i++)
		many += "X-Header-" + std::to_string(i) + ": value\r\n";
	EXPECT_TRUE(refused_or_4xx(request(port, many + "\r\n")));
	EXPECT_TRUE(refused_or_4xx(request(
		port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + std::string(100000, 'b') + "\r\n\r\n")));
	// Garbage, with and without an end of headers.
	std::string garbage;
	for (int i = 0; i < 4096; i++)
		garbage += (char)((i * 131 + 7) & 0xff);
	EXPECT_TRUE(refused_or_4xx(request(port, garbage + "\r\n\r\n")));
	const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"; // TLS
	EXPECT_TRUE(refused_or_4xx(request(port, std::string(hello, sizeof(hello) - 1), 2)));
	EXPECT_TRUE(refused_or_4xx(request(port, "GET\r\n\r\n")));
	EXPECT_TRUE(refused_or_4xx(request(port, "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n")));
	// A GET that announces a body of 100 MB: answered, the body not read.
	std::string with_body = request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
					      "Content-Length: 100000000\r\n\r\nabc");
	EXPECT_TRUE(with_body.empty() || parse_http(with_body).status == 200) << with_body;
	ASSERT_TRUE(serving());

	// Connections by the hundred, held open: the server takes what it
	// allows and closes or leaves waiting the rest; once they go, it
	// serves again.
	std::vector<int> held;
	for (int i = 0; i < 200; i++) {
		int fd = connect_to(port, 2);
		if (fd >= 0) {
			send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
			held.push_back(fd);
		}
	}
	EXPECT_GT(held.size(), 0u);
	for (int fd : held)
		close(fd);
	held.clear();
	bool back = false;
	for (double end = mstest::now_s() + 15; !back && mstest::now_s() < end; usleep(200000))
		back = serving();
	EXPECT_TRUE(back);

	// A client that sends half a request and stalls holds up nobody, and
	// is cut off after the idle timeout (10 s).
	int slow = connect_to(port, 30);
	ASSERT_GE(slow, 0);
	send_all(slow, "GET /metr");
	double stalled = mstest::now_s();
	EXPECT_TRUE(serving());
	EXPECT_TRUE(serving());
	std::string cut = read_all(slow);
	double waited = mstest::now_s() - stalled;
	close(slow);
	EXPECT_TRUE(refused_or_4xx(cut)) << cut;
	EXPECT_GE(waited, 5.0);
	EXPECT_LT(waited, 25.0);

	// Still there, still serving; it stops cleanly.
	EXPECT_TRUE(serving());
	EXPECT_EQ(kill(server.pid, 0), 0);
	kill(server.pid, SIGTERM);
	EXPECT_EQ(server.wait(), 0);
	server.pid = -1;
}

TEST_F(Serve, AnAddressItCannotBindIsOneLineAndStatusOne)
{
	int port = start_server();
	mstest::Result r = mstest::run({ mstest::top_path(), "--serve",
					 "127.0.0.1:" + std::to_string(port) });
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.out, "");
	EXPECT_EQ(r.err, "memscope-top: cannot listen on 127.0.0.1:" + std::to_string(port) +
				 ": Address already in use\n");
	// An address of another host: not one of ours to bind.
	r = mstest::run({ mstest::top_path(), "--serve", "192.0.2.1:9100" });
	EXPECT_EQ(r.status, 1);
	EXPECT_EQ(r.err, "memscope-top: cannot listen on 192.0.2.1:9100: Cannot assign requested "
			 "address\n");
}

TEST_F(Serve, UsageErrors)
{
	for (const char *addr : { "", "localhost", "1.2.3.4:", ":99999", "::1:80", "[::1]", "x:y" }) {
		mstest::Result r = mstest::run({ mstest::top_path(), "--serve", addr });
		EXPECT_EQ(r.status, 2) << addr;
		EXPECT_NE(r.err.find("--serve needs [ADDR:]PORT"), std::string::npos) << r.err;
	}
	mstest::Result r = mstest::run({ mstest::top_path(), "--serve", "0", "--", "true" });
	EXPECT_EQ(r.status, 2);
	r = mstest::run({ mstest::top_path(), "--serve", "0", "-b" });
	EXPECT_EQ(r.status, 2);
	r = mstest::run({ mstest::top_path(), "--help" });
	EXPECT_NE(r.out.find("--serve"), std::string::npos);
}

} // namespace
