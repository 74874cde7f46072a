/*
 * The socket table the CLI prints (demo, SIGUSR1 reports): `ss -tan`
 * through the same formatter the control socket uses (src/observe/ss.c).
 */
#include <stdio.h>

#include "cli.h"
#include "observe/ss.h"

void sk_cli_print_socket_table(FILE *out, sk_stack *stack)
{
    char *argv[] = {"ss", "-tan", NULL};
    sk_ss_run(stack, sk_now(stack), 2, argv, out, out);
}
