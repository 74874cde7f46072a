/* `synack script`: the packetdrill script runner (src/script). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "script/script.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: synack script [-v] [--so PATH] [--ip_version V] FILE.pkt...\n"
                 "  Runs each packetdrill script against a fresh stack in virtual time and prints\n"
                 "  PASS path, FAIL path: message or SKIP path: reason, then a summary.\n"
                 "  -v         trace every event and datagram to stderr\n"
                 "  --so PATH  drive the packetdrill shared object PATH (e.g.\n"
                 "             build/libsynack-packetdrill.so) through packetdrill's\n"
                 "             struct packetdrill_interface, one instance per script, instead\n"
                 "             of the engine linked into synack; sysctl lines become its\n"
                 "             packetdrill_interface_init() flags\n"
                 "  --ip_version V  ipv4 (default), ipv6 or ipv4-mapped-ipv6 for scripts that\n"
                 "             name none, with the kernel runner's addresses (IPv6: local\n"
                 "             fd3d:a0b:17d6::1, remote fd3d:fa7b:d17d::1, MTU 1520)\n"
                 "exit status: 0 all passed, 1 a script failed or did not parse, 2 usage\n"
                 "error, 77 none failed but one was skipped (a skip is not a pass)\n");
}

int sk_cmd_script(int argc, char **argv)
{
    sk_script_run_opts opts = {0};
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "-v") == 0 || strcmp(argv[first], "--verbose") == 0) {
            opts.verbose = true;
        } else if (strcmp(argv[first], "--so") == 0 && first + 1 < argc) {
            opts.so_path = argv[++first];
        } else if (strcmp(argv[first], "--ip_version") == 0 && first + 1 < argc) {
            opts.ip_version = argv[++first];
        } else if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "synack script: unknown option %s\n", argv[first]);
            usage(stderr);
            return 2;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    unsigned passed = 0, failed = 0, skipped = 0;
    for (int i = first; i < argc; i++) {
        char msg[2048];
        sk_script *s = sk_script_parse_file(argv[i], msg, sizeof(msg));
        if (!s) {
            printf("FAIL %s: %s\n", argv[i], msg);
            failed++;
            continue;
        }
        if (opts.verbose)
            fprintf(stderr, "== %s\n", argv[i]);
        switch (sk_script_run(s, &opts, msg, sizeof(msg))) {
        case SK_SCRIPT_PASS:
            printf("PASS %s\n", argv[i]);
            passed++;
            break;
        case SK_SCRIPT_FAIL:
            printf("FAIL %s: %s\n", argv[i], msg);
            failed++;
            break;
        case SK_SCRIPT_SKIP:
            printf("SKIP %s: %s\n", argv[i], msg);
            skipped++;
            break;
        }
        fflush(stdout);
        sk_script_free(s);
    }
    printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    /* 77 as ctest's SKIP_RETURN_CODE and `synack-conformance` read it. */
    return failed ? 1 : skipped ? 77 : 0;
}
