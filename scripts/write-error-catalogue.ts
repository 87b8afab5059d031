/** Writes docs/errors.md from the reason catalogue (npm run docs:errors). */
import { writeFileSync } from 'node:fs';
import { errorCatalogueMarkdown } from '../src/errors/catalogue-markdown.ts';

writeFileSync(new URL('../docs/errors.md', import.meta.url), errorCatalogueMarkdown());
