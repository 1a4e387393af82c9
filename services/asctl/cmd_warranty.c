/* cmd_warranty.c — `asctl` verbs for the warranty service. */
#include "asctl.h"

const asctl_cmd_t asctl_warranty_cmds[] = {
    {NULL, NULL, NULL, NULL, NULL},
};
