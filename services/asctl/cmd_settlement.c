/* cmd_settlement.c — `asctl` verbs for the settlement service. */
#include "asctl.h"

const asctl_cmd_t asctl_settlement_cmds[] = {
    {NULL, NULL, NULL, NULL, NULL},
};
