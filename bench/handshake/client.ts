/**
 * The measuring client: node:tls (or node:net for the plain reference) and a minimal HTTP/1.1 writer and reader,
 * no agent, no pool, no autocannon (see /work/shared/BENCHMARKING.md, traps 2 and 3).
 *
 * Why not node:https with an Agent: the agent's session cache, socket pool and queueing decide behind our back
 * whether a connection is new, resumed or reused, and its request/response objects add their own work to every
 * sample. Here every connection is opened by us, with exactly the session we pass (none, or the newest ticket the
 * same server gave us), its reuse is read back from the socket (`isSessionReused()`), and timestamps are taken in
 * the socket's own event handlers:
 *
 *   t0      just before tls.connect() / net.connect()        (handshake scenarios)
 *           just before socket.write(request)                 (keep-alive scenario)
 *   secure  in the 'secureConnect' ('connect') handler, where the request is written at once
 *   end     in the 'data' handler that completes the response (head + Content-Length bytes of body)
 *
 * so no promise hop or timer sits inside a sample. One client-side SecureContext (CA, bank-alpha's certificate and
 * key) is built once and shared by every connection, as a real client does; building one per connection would
 * time OpenSSL's context setup, not the handshake.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';

export interface Target {
  readonly host: string;
  readonly port: number;
  /** SNI and the name the server certificate is checked against. */
  readonly servername: string;
  /** null: plain TCP (the no-TLS reference). */
  readonly secureContext: SecureContext | null;
}

export interface Response {
  readonly status: number;
  readonly head: string;
  readonly body: Buffer;
  /** Head + body bytes. */
  readonly bytes: number;
  /** hrtime when the last byte arrived. */
  readonly at: bigint;
}

export interface ConnectionSample {
  /** t0 → complete response, ms. */
  readonly totalMs: number;
  /** t0 → handshake done on the client's side (TCP connected, for plain), ms. */
  readonly handshakeMs: number;
  readonly response: Response;
  readonly sessionReused: boolean;
  /** The newest session ticket this connection received, to resume the next one with. */
  readonly session: Buffer | undefined;
  readonly protocol: string | null;
  readonly cipher: string | null;
  /** The key-exchange group (e.g. X25519MLKEM768, X25519), from getEphemeralKeyInfo(). */
  readonly group: string | null;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) /;
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?=\r\n|$)/i;
const CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;

/**
 * Reads HTTP/1.1 responses with a Content-Length off a socket, one at a time. Both servers send Content-Length on
 * these routes; anything else (chunked, no length) fails loudly instead of being guessed at.
 */
export class ResponseReader {
  private buffered: Buffer | undefined;
  private waiting: { resolve: (response: Response) => void; reject: (error: Error) => void } | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the connection closed before the response was complete')));
  }

  /** Call before writing the request. */
  next(): Promise<Response> {
    if (this.waiting !== undefined) throw new Error('one response at a time');
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.parse();
    });
  }

  private parse(): void {
    const buffer = this.buffered;
    if (buffer === undefined || this.waiting === undefined) return;
    const headEnd = buffer.indexOf(HEAD_END);
    if (headEnd === -1) return;
    const head = buffer.toString('latin1', 0, headEnd);
    const status = STATUS_LINE.exec(head)?.[1];
    const length = CONTENT_LENGTH.exec(head)?.[1];
    if (status === undefined || length === undefined || CHUNKED.test(head)) {
      this.fail(new Error(`unexpected response head (need HTTP/1.1 with Content-Length):\n${head}`));
      return;
    }
    const total = headEnd + HEAD_END.length + Number(length);
    if (buffer.length < total) return;
    const at = process.hrtime.bigint();
    this.buffered = buffer.length > total ? buffer.subarray(total) : undefined;
    const { resolve } = this.waiting;
    this.waiting = undefined;
    resolve({ status: Number(status), head, body: buffer.subarray(headEnd + HEAD_END.length, total), bytes: total, at });
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }
}

/** A GET request's bytes, with the credential headers every target receives (only the gateway reads them). */
export function getRequest(options: { path: string; host: string; authorization: string; dpop: string; close: boolean }): Buffer {
  return Buffer.from(
    `GET ${options.path} HTTP/1.1\r\n` +
      `Host: ${options.host}\r\n` +
      `Authorization: ${options.authorization}\r\n` +
      `DPoP: ${options.dpop}\r\n` +
      'Accept: application/json\r\n' +
      `Connection: ${options.close ? 'close' : 'keep-alive'}\r\n\r\n`,
    'latin1',
  );
}

const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

function groupOf(socket: TLSSocket | undefined): string | null {
  const info = socket?.getEphemeralKeyInfo();
  return info !== undefined && info !== null && 'name' in info && typeof info.name === 'string' ? info.name : null;
}

function open(target: Target, session: Buffer | undefined): Socket | TLSSocket {
  if (target.secureContext === null) return netConnect({ host: target.host, port: target.port, noDelay: true });
  const socket = tlsConnect({
    host: target.host,
    port: target.port,
    servername: target.servername,
    secureContext: target.secureContext,
    minVersion: 'TLSv1.3',
    ...(session === undefined ? {} : { session }),
  });
  // Every request is one write with nothing else in flight, so Nagle would not delay it; set anyway, like the servers.
  socket.setNoDelay(true);
  return socket;
}

/**
 * One new connection, one request (`Connection: close`), then wait until the socket has closed (untimed) so the
 * next sample does not overlap this one's teardown. `session` resumes a previous TLS session; none forces a full
 * handshake (node:tls keeps no client-side session cache of its own).
 */
export function requestOnNewConnection(target: Target, request: Buffer, session?: Buffer): Promise<ConnectionSample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const socket = open(target, session);
    const tls = target.secureContext === null ? undefined : (socket as TLSSocket);
    const reader = new ResponseReader(socket);
    let secureAt = 0n;
    let newest: Buffer | undefined;
    let sample: Omit<ConnectionSample, 'session'> | undefined;
    let failure: Error | undefined;
    tls?.on('session', (ticket: Buffer) => (newest = ticket));
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      secureAt = process.hrtime.bigint();
      reader.next().then(
        (response) => {
          sample = {
            totalMs: ms(t0, response.at),
            handshakeMs: ms(t0, secureAt),
            response,
            sessionReused: tls?.isSessionReused() ?? false,
            protocol: tls?.getProtocol() ?? null,
            cipher: tls?.getCipher().name ?? null,
            group: groupOf(tls),
          };
          socket.end();
        },
        (error: Error) => {
          failure = error;
          socket.destroy();
        },
      );
      socket.write(request);
    });
    // A reset after the complete response (the server closing first) changes nothing about the sample.
    socket.on('error', (error) => (failure ??= error));
    socket.once('close', () => {
      if (sample !== undefined) resolve({ ...sample, session: newest });
      else reject(failure ?? new Error('the connection closed before the response was complete'));
    });
  });
}

/** An established keep-alive connection for sequential requests. */
export class KeepAliveConnection {
  private readonly socket: Socket;
  private readonly reader: ResponseReader;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.reader = new ResponseReader(socket);
  }

  static open(target: Target): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const socket = open(target, undefined);
      socket.once('error', reject);
      socket.once(target.secureContext === null ? 'connect' : 'secureConnect', () => {
        socket.off('error', reject);
        resolve(new KeepAliveConnection(socket));
      });
    });
  }

  /** Writes the request and times it until the response's last byte: ms, and the response. */
  async request(request: Buffer): Promise<{ ms: number; response: Response }> {
    const pending = this.reader.next();
    const t0 = process.hrtime.bigint();
    this.socket.write(request);
    const response = await pending;
    return { ms: ms(t0, response.at), response };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.closed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}
