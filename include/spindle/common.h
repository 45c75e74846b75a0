/* Shared macros for the public headers. */
#ifndef SPINDLE_COMMON_H
#define SPINDLE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(SPINDLE_BUILDING)
#define SP_API __attribute__((visibility("default")))
#else
#define SP_API
#endif

#ifdef __cplusplus
#define SP_EXTERN_C_BEGIN extern "C" {
#define SP_EXTERN_C_END }
#else
#define SP_EXTERN_C_BEGIN
#define SP_EXTERN_C_END
#endif

#endif
