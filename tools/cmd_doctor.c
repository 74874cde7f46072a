#include "cli.h"
#include "commands.h"
void sk_cmd_doctor_usage(FILE *out) { fprintf(out, "usage: synack doctor\n"); }
int sk_cmd_doctor(int argc, char **argv) { (void)argc; (void)argv; return 1; }
