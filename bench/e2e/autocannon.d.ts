/**
 * The part of autocannon 9 (no published types) the e2e harness uses, written from its source (lib/run.js,
 * lib/httpClient.js, lib/requestIterator.js).
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  import type { SecureContext } from 'node:tls';

  interface RequestData {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }

  interface AutocannonRequest extends RequestData {
    /** Called synchronously, on the load generator's thread, before each request is written. */
    setupRequest?: (request: RequestData, context: Record<string, unknown>) => RequestData | undefined;
    /** Called with every response's status and body (autocannon collects the body anyway). */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void;
  }

  interface AutocannonClient extends EventEmitter {
    /** Deep-cloned from the options before setupClient runs; tls.connect() spreads `tlsOptions`. */
    opts: { tlsOptions?: { secureContext?: SecureContext; [key: string]: unknown }; [key: string]: unknown };
  }

  interface AutocannonOptions {
    url: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Seconds a request may take before autocannon gives up on it and reconnects. */
    timeout?: number;
    /** Requests per second over all connections; each connection gets its share, per 1 s window. */
    overallRate?: number;
    servername?: string;
    requests?: AutocannonRequest[];
    setupClient?: (client: AutocannonClient) => void;
  }

  interface AutocannonResult {
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    totalRequests: number;
    totalCompletedRequests: number;
    duration: number;
    statusCodeStats: Record<string, { count: number }>;
  }

  interface Instance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop(): void;
    on(event: 'response', listener: (client: AutocannonClient, statusCode: number, bytes: number, responseTimeMs: number) => void): this;
    on(event: 'reqError', listener: (error: Error) => void): this;
    on(event: 'done', listener: (result: AutocannonResult) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  function autocannon(options: AutocannonOptions): Instance;
  export default autocannon;
  export type { AutocannonClient, AutocannonOptions, AutocannonRequest, AutocannonResult, Instance, RequestData };
}
