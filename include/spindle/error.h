/* Error reporting.
 *
 * Every spindle call that can fail returns a negative errno value
 * (-EINVAL, -ECANCELED, ...), like the kernel and liburing. spindle never
 * reports through errno: errno is thread-local and a stealable task may
 * resume on another thread. The codes and their meaning are listed in
 * docs/api/errors.md. */
#ifndef SPINDLE_ERROR_H
#define SPINDLE_ERROR_H

#include "common.h"

SP_EXTERN_C_BEGIN

/* A human-readable message for a negative errno value (or for 0).
 * Suspends: no. Context: any thread.
 * Memory: returns a static string; never NULL. */
SP_API const char *sp_strerror(int err);

/* The symbolic name of a negative errno value: "ECANCELED".
 * Suspends: no. Context: any thread.
 * Memory: returns a static string; "UNKNOWN" for codes it does not know. */
SP_API const char *sp_err_name(int err);

SP_EXTERN_C_END

#endif
