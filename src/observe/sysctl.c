/*
 * sysctl(8) for a synack stack (sysctl.h).
 */
#include "observe/sysctl.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

typedef struct sysctl_opts {
    bool all, values_only, write, quiet, json;
} sysctl_opts;

static void json_value(FILE *out, const char *v)
{
    fputc('"', out);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            fprintf(out, "\\%c", *v);
        else if (*v == '\t')
            fputs("\\t", out);
        else
            fputc(*v, out);
    }
    fputc('"', out);
}

static void print_value(FILE *out, const sysctl_opts *o, const char *name, const char *value, bool *first)
{
    if (o->json) {
        fprintf(out, "%s", *first ? "{" : ",");
        json_value(out, name);
        fputc(':', out);
        json_value(out, value);
    } else if (o->values_only) {
        fprintf(out, "%s\n", value);
    } else {
        fprintf(out, "%s = %s\n", name, value);
    }
    *first = false;
}

/* The name as the user wrote it may use '/' separators (sysctl(8)
 * accepts "net/ipv4/tcp_fin_timeout"); it is printed dotted. */
static void dotted(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", name);
    if (strchr(buf, '.') == NULL)
        for (char *p = buf; *p; p++)
            if (*p == '/')
                *p = '.';
}

static int write_one(sk_stack *stack, const sysctl_opts *o, const char *arg, FILE *out, FILE *err, bool *first)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(err, "sysctl: \"%s\" must be of the form name=value\n", arg);
        return 1;
    }
    char name[128];
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof(name)) {
        fprintf(err, "sysctl: unknown name '%.*s'\n", (int)n, arg);
        return 1;
    }
    memcpy(name, arg, n);
    name[n] = '\0';
    /* sysctl(8) trims blanks around the '=' of "name = value". */
    while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        name[--n] = '\0';
    const char *value = eq + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    char msg[256] = "";
    int rc = sk_sysctl_set(stack, name, value, msg, sizeof(msg));
    if (rc < 0) {
        if (msg[0])
            fprintf(err, "sysctl: %s\n", msg);
        else
            fprintf(err, "sysctl: setting key \"%s\": %s\n", name, sk_strerror(rc));
        return 1;
    }
    if (!o->quiet) {
        char shown[128];
        dotted(name, shown, sizeof(shown));
        print_value(out, o, shown, value, first);
    }
    return 0;
}

static int read_one(sk_stack *stack, const sysctl_opts *o, const char *name, FILE *out, FILE *err, bool *first)
{
    char value[256];
    if (sk_sysctl_get(stack, name, value, sizeof(value)) < 0) {
        fprintf(err, "sysctl: unknown name '%s': synack has no such tunable (`synack sysctl -a` lists them)\n",
                name);
        return 1;
    }
    char shown[128];
    dotted(name, shown, sizeof(shown));
    print_value(out, o, shown, value, first);
    return 0;
}

int sk_sysctl_run(sk_stack *stack, int argc, char **argv, FILE *out, FILE *err)
{
    sysctl_opts o = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--all"))
            o.all = true;
        else if (!strcmp(a, "--values"))
            o.values_only = true;
        else if (!strcmp(a, "--write"))
            o.write = true;
        else if (!strcmp(a, "--quiet"))
            o.quiet = true;
        else if (!strcmp(a, "--json"))
            o.json = true;
        else if (a[1] == '-') {
            fprintf(err, "sysctl: unknown option '%s' (synack sysctl knows -a -n -w -q --json)\n", a);
            return 2;
        } else {
            for (const char *c = a + 1; *c; c++) {
                switch (*c) {
                case 'a':
                case 'A':
                case 'X':
                    o.all = true;
                    break;
                case 'n':
                    o.values_only = true;
                    break;
                case 'w':
                    o.write = true;
                    break;
                case 'q':
                    o.quiet = true;
                    break;
                case 'e':
                    break;
                default:
                    fprintf(err, "sysctl: unknown option '-%c' (synack sysctl knows -a -n -w -q --json)\n", *c);
                    return 2;
                }
            }
        }
    }
    bool first = true;
    int status = 0;
    if (o.all) {
        const char *name;
        for (size_t k = 0; (name = sk_sysctl_name(k)) != NULL; k++)
            status |= read_one(stack, &o, name, out, err, &first);
    } else if (i >= argc) {
        fprintf(err, "sysctl: no variables specified (try -a, NAME or -w NAME=VALUE)\n");
        return 2;
    }
    for (; i < argc; i++) {
        if (o.write || strchr(argv[i], '='))
            status |= write_one(stack, &o, argv[i], out, err, &first);
        else
            status |= read_one(stack, &o, argv[i], out, err, &first);
    }
    if (o.json)
        fprintf(out, "%s}\n", first ? "{" : "");
    return status;
}
