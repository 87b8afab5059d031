/**
 * Where the official schemas live on disk, and a SchemaSet that reads them from there. The message core
 * takes schemas through a loader so that it stays free of I/O; this is that loader.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SchemaSet } from '../iso20022/index.ts';

export const XSD_DIRECTORY = fileURLToPath(new URL('../../xsd/', import.meta.url));

/** Schema file names are fixed identifiers (`pacs.008.001.08.xsd`); anything else is a programmer error. */
const SCHEMA_FILE = /^[a-z]{4}\.\d{3}\.\d{3}\.\d{2}\.xsd$/;

export function schemaSetFromDisk(directory: string = XSD_DIRECTORY): SchemaSet {
  return new SchemaSet((fileName) => {
    if (!SCHEMA_FILE.test(fileName)) throw new TypeError(`not a schema file name: ${fileName}`);
    return readFileSync(`${directory}${fileName}`);
  });
}
