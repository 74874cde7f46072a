/*
 * SK_EXPORT marks the declarations of synack's public API.  The libraries
 * are compiled with -fvisibility=hidden, so a function is exported from
 * libsynack.so (and libsynack-io.so) only when its declaration carries
 * SK_EXPORT; everything else stays internal, whatever its name.
 */
#ifndef SYNACK_EXPORT_H
#define SYNACK_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SK_EXPORT __attribute__((visibility("default")))
#else
#define SK_EXPORT
#endif

#endif
