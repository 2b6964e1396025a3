/* Every public header of memscope, for the C and C++ compile checks. */
#include <memscope.h>
#include <memscope/atomic.h>
#include <memscope/backends.h>
#include <memscope/capture.h>
#include <memscope/event.h>
#include <memscope/frame.h>
#include <memscope/platform.h>
#include <memscope/ptr_map.h>
#include <memscope/python.h>
#include <memscope/session.h>
#include <memscope/snapshot.h>
#include <memscope/store.h>
