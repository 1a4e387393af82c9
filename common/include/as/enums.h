/* enums.h — the closed value sets of the API (ticket states, roles, remedies, severities,
 * channels, ...), declared once as enums in the .proto files of proto/. The wire keeps them as
 * strings; the validators check a string against the enum's generated descriptor (protoc-c), and
 * their error messages list the values from it, so a new value is added in the .proto file only.
 * tests/api/openapi-schemas.sh writes the same enums into docs/api/openapi.yaml. */
#ifndef AS_ENUMS_H
#define AS_ENUMS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* 1 when `s` is one of the values of `d` (by their proto names), 0 otherwise (NULL: 0). */
int as_enum_has(const ProtobufCEnumDescriptor *d, const char *s);

/* The values of `d` in declaration order, separated by `sep`, the last two by `last`:
 * as_enum_list(&intake__request__descriptor, ", ", " or ", ...) gives
 * "refund, exchange or repair". Truncated to fit `len`; returns buf. */
const char *as_enum_list(const ProtobufCEnumDescriptor *d, const char *sep, const char *last,
                         char *buf, size_t len);

/* Look an enum up by its full name ("intake.TicketState"); NULL if unknown (the registry that
 * proto/gen-registry.sh generates). */
const ProtobufCEnumDescriptor *as_registry_find_enum(const char *name);

#endif
