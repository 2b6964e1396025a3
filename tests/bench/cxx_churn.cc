// cxx_churn ROUNDS: C++'s many small news and deletes, in one thread: each
// round builds a list of 64 small nodes (new, 32 bytes each), a vector of 16
// strings long enough to allocate, and a map of 16 entries, then drops them
// all. Prints the sum of the nodes' values (so nothing is optimised away);
// exits 0, or 2 on bad arguments.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Node {
	std::unique_ptr<Node> next;
	long value;
	long pad[2];
};

} // namespace

int main(int argc, char **argv)
{
	long rounds = argc == 2 ? std::strtol(argv[1], nullptr, 10) : 0;
	long sum = 0;

	if (rounds <= 0) {
		std::fprintf(stderr, "usage: cxx_churn ROUNDS\n");
		return 2;
	}
	for (long r = 0; r < rounds; r++) {
		std::unique_ptr<Node> head;
		for (long i = 0; i < 64; i++) {
			auto n = std::make_unique<Node>();
			n->value = r + i;
			n->next = std::move(head);
			head = std::move(n);
		}
		std::vector<std::string> words;
		for (long i = 0; i < 16; i++)
			words.emplace_back(24 + (size_t)(i % 8), 'a' + (char)(i % 26));
		std::map<long, long> index;
		for (long i = 0; i < 16; i++)
			index[(r * 16 + i) % 97] = i;
		for (Node *n = head.get(); n != nullptr; n = n->next.get())
			sum += n->value;
		sum += (long)words.size() + (long)index.size();
		// Drop the list iteratively: a recursive destructor of a long list
		// is not what this measures.
		while (head)
			head = std::move(head->next);
	}
	std::printf("%ld\n", sum);
	return 0;
}
