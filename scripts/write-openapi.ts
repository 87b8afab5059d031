/** Writes docs/openapi.json from the code (node scripts/write-openapi.ts). */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../src/openapi/openapi-document.ts';

writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(openApiDocument(), null, 2)}\n`);
