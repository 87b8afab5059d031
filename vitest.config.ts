import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The conformance suite starts a JVM per file through xsd-schema-validator; give it room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
