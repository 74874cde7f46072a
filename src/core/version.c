/* The loaded library's version (synack/version.h). */
#include "synack/version.h"

const char *sk_version(void) { return SK_VERSION_STRING; }
