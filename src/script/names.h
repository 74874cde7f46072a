/* Linux constant and errno names as packetdrill scripts spell them. */
#ifndef SK_SCRIPT_NAMES_H
#define SK_SCRIPT_NAMES_H

#include <stdbool.h>
#include <stdint.h>

bool sk_script_constant(const char *name, int64_t *out);
bool sk_script_errno_value(const char *name, int *out);
/* "EAGAIN" for 11 or -11; "E?" when unknown. */
const char *sk_script_errno_text(int err);

#endif
