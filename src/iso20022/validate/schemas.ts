/**
 * Compiled XSD validators, one per message version, compiled once on first use and reused for every message.
 *
 * libxml2 (compiled to WebAssembly, in process) validates on the hot path: a compiled schema checks a 10 KB
 * pacs.008 in about a tenth of a millisecond. Java Xerces through `xsd-schema-validator` starts a JVM per call
 * (~300 ms), so it only serves as the independent second opinion in the conformance tests.
 *
 * The module stays free of I/O: the caller hands in a loader that returns the bytes of a schema file.
 */
import { XmlDocument, XsdValidator } from 'libxml2-wasm';
import { schemaFileName } from '../parse/versions.ts';

/** Returns the bytes of an official schema file such as `pacs.008.001.08.xsd`. */
export type SchemaLoader = (fileName: string) => Uint8Array;

interface CompiledSchema {
  readonly schemaDocument: XmlDocument;
  readonly validator: XsdValidator;
}

export class SchemaSet implements Disposable {
  readonly #load: SchemaLoader;
  readonly #compiled = new Map<string, CompiledSchema>();

  constructor(load: SchemaLoader) {
    this.#load = load;
  }

  /** The validator for a message id such as `pacs.008.001.08`, compiled on first use. */
  validatorFor(messageId: string): XsdValidator {
    let compiled = this.#compiled.get(messageId);
    if (compiled === undefined) {
      // The schema document stays alive as long as the validator: libxml2's compiled schema points into it.
      const schemaDocument = XmlDocument.fromBuffer(this.#load(schemaFileName(messageId)), { url: schemaFileName(messageId) });
      try {
        compiled = { schemaDocument, validator: XsdValidator.fromDoc(schemaDocument) };
      } catch (error) {
        schemaDocument.dispose();
        throw new Error(`the official schema ${messageId} does not compile`, { cause: error });
      }
      this.#compiled.set(messageId, compiled);
    }
    return compiled.validator;
  }

  /** Compiles the given schemas now (at boot), so that the first request does not pay for it. */
  warm(messageIds: Iterable<string>): void {
    for (const id of messageIds) this.validatorFor(id);
  }

  [Symbol.dispose](): void {
    for (const { validator, schemaDocument } of this.#compiled.values()) {
      validator.dispose();
      schemaDocument.dispose();
    }
    this.#compiled.clear();
  }
}
