#include "top.h"

int main(int argc, char **argv)
{
	return ms_top_run(argc, argv);
}
