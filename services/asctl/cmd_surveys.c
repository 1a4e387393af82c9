/* cmd_surveys.c — `asctl` verbs for the surveys service. */
#include "asctl.h"

const asctl_cmd_t asctl_surveys_cmds[] = {
    {NULL, NULL, NULL, NULL, NULL},
};
