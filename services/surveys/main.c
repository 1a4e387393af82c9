/* main.c — the surveys service. This release runs the shared runtime only: its schema and
 * migrations, health and the command endpoint. Its domain commands and event handlers are not
 * built yet (see docs/architecture.md, "What is built"). */
#include "as/service.h"

static const as_service_def_t surveys_service = {
    .name = "surveys",
    .publishes = 1,
};

int main(int argc, char **argv)
{
    return as_service_main(argc, argv, &surveys_service);
}
