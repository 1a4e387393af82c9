/* enums.c — membership and listing of the proto enums that declare the API's value sets. */
#include "as/enums.h"

#include <stdio.h>
#include <string.h>

int as_enum_has(const ProtobufCEnumDescriptor *d, const char *s)
{
    if (!d || !s)
        return 0;
    for (unsigned i = 0; i < d->n_values; i++)
        if (strcmp(d->values[i].name, s) == 0)
            return 1;
    return 0;
}

const char *as_enum_list(const ProtobufCEnumDescriptor *d, const char *sep, const char *last,
                         char *buf, size_t len)
{
    size_t o = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (unsigned i = 0; d && i < d->n_values; i++) {
        const char *s = i == 0 ? "" : i + 1 == d->n_values ? last : sep;
        int n = snprintf(buf + o, len - o, "%s%s", s, d->values[i].name);
        if (n < 0 || (size_t)n >= len - o)
            break;
        o += (size_t)n;
    }
    return buf;
}
