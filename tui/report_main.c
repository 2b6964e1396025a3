#include "report.h"

int main(int argc, char **argv)
{
	return ms_report_run(argc, argv);
}
