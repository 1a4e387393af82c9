/* cmd_parts.c — `asctl` verbs for the parts service. */
#include "asctl.h"

const asctl_cmd_t asctl_parts_cmds[] = {
    {NULL, NULL, NULL, NULL, NULL},
};
