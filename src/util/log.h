/* Diagnostics: one line on stderr, prefixed "spindle:". Used for bad input
 * (the message names the argument) and for backend choices. */
#ifndef SP_UTIL_LOG_H
#define SP_UTIL_LOG_H

#include <stdio.h>
#include <stdlib.h>

#define sp__log(...)                                                                  \
    do {                                                                              \
        fprintf(stderr, "spindle: " __VA_ARGS__);                                     \
        fputc('\n', stderr);                                                          \
    } while (0)

/* An invariant that must hold; on in debug, asan and tsan builds. */
#ifdef SP_DEBUG
#define SP_ASSERT(cond)                                                               \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "spindle: %s:%d: assertion failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                                 \
            abort();                                                                  \
        }                                                                             \
    } while (0)
#else
#define SP_ASSERT(cond) ((void)0)
#endif

#endif
