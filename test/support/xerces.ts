/**
 * Java Xerces through xsd-schema-validator, the independent second opinion on schema verdicts.
 *
 * It needs a JDK, which `npm ci` on a machine without one cannot provide (the package is an optional
 * dependency for that reason, so the demo still installs there). Locally such tests are skipped with a
 * message; in CI (CI=true) a missing JDK is a failure, so the second opinion can never silently vanish.
 */
type ValidateXml = (xml: string, schemaPath: string) => Promise<{ valid: boolean }>;

async function load(): Promise<ValidateXml | undefined> {
  try {
    const module = (await import('xsd-schema-validator')) as { default: { validateXML: ValidateXml } };
    const { spawnSync } = await import('node:child_process');
    if (spawnSync('java', ['-version']).status !== 0 && process.env.JAVA_HOME === undefined) throw new Error('no java on PATH');
    return module.default.validateXML.bind(module.default);
  } catch (error) {
    if (process.env.CI === 'true') throw new Error('CI needs Java Xerces (a JDK and xsd-schema-validator) for the schema second opinion', { cause: error });
    console.warn(`Xerces second opinion unavailable here, its tests are skipped: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

export const xercesValidateXml: ValidateXml | undefined = await load();

/** Xerces' verdict: true when valid, false when invalid; any other failure (no JVM, bad schema path) throws. */
export async function xercesValid(xml: string, schemaPath: string): Promise<boolean> {
  if (xercesValidateXml === undefined) throw new Error('Xerces is not available');
  try {
    return (await xercesValidateXml(xml, schemaPath)).valid;
  } catch (error) {
    // The library rejects with the verdict attached when the document is invalid.
    if (typeof error === 'object' && error !== null && 'valid' in error && error.valid === false) return false;
    throw error;
  }
}
