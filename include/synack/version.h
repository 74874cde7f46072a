/*
 * synack's version, for compile-time checks (SK_VERSION_NUM) and, through
 * sk_version(), for what the loaded library says it is.  The build reads
 * the three numbers below (CMakeLists.txt), so they are the one source of
 * the project, SONAME, pkg-config and CMake package versions.
 */
#ifndef SYNACK_VERSION_H
#define SYNACK_VERSION_H

#include "synack/export.h"

#define SK_VERSION_MAJOR 0
#define SK_VERSION_MINOR 1
#define SK_VERSION_PATCH 0
#define SK_VERSION_STRING "0.1.0"
/* 0xMMmmpp: compare with >= (0x000100 is 0.1.0). */
#define SK_VERSION_NUM ((SK_VERSION_MAJOR << 16) | (SK_VERSION_MINOR << 8) | SK_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/** The version of the library actually loaded ("0.1.0"); differs from
 *  SK_VERSION_STRING when a program runs against a newer libsynack. */
SK_EXPORT const char *sk_version(void);

#ifdef __cplusplus
}
#endif

#endif
