/* spindle: an M:N runtime of stackful tasks on io_uring.
 *
 * Umbrella header: it only includes the per-topic headers. Each of those
 * compiles on its own. */
#ifndef SPINDLE_H
#define SPINDLE_H

#include "spindle/blocking.h"
#include "spindle/chan.h"
#include "spindle/error.h"
#include "spindle/fs.h"
#include "spindle/group.h"
#include "spindle/io.h"
#include "spindle/net.h"
#include "spindle/runtime.h"
#include "spindle/sync.h"
#include "spindle/task.h"
#include "spindle/time.h"

#endif
