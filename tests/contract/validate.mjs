// validate.mjs — validate an OpenAPI document with @apidevtools/swagger-parser (the OpenAPI 3.0
// JSON schema plus its own checks: $refs resolve, path parameters declared, operationIds unique).
// Usage: node validate.mjs docs/api/openapi.yaml
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  console.log(`${file}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
} catch (e) {
  console.error(`${file}: ${e.message}`);
  process.exit(1);
}
