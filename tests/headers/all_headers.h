/* Every public header of memscope, for the C and C++ compile checks. */
#include <memscope.h>
#include <memscope/atomic.h>
#include <memscope/backends.h>
#include <memscope/block.h>
#include <memscope/capture.h>
#include <memscope/event.h>
#include <memscope/grow.h>
#include <memscope/own_threads.h>
#include <memscope/platform.h>
#include <memscope/ptr_map.h>
#include <memscope/python.h>
#include <memscope/recording.h>
#include <memscope/segment.h>
#include <memscope/session.h>
#include <memscope/sessions.h>
#include <memscope/skip.h>
#include <memscope/snapshot.h>
#include <memscope/stacks.h>
#include <memscope/store.h>
#include <memscope/stream.h>
#include <memscope/symbols.h>

#include "tui/frame.h"
