/* main.c — asctl, the command-line client. This release has `asctl health`; the ticket,
 * warranty, parts, settlement, survey and complaint commands arrive with their services. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: asctl <command>\n\ncommands:\n  health   ask the gateway whether every "
               "service is up (uses AS_GATEWAY_URL)\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "asctl: unknown command '%s' (see asctl --help)\n", argv[1]);
    return 2;
}
