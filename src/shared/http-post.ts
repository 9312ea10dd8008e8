/**
 * A POST over node:http/https with a keep-alive agent, a hard timeout, a cap
 * on the answer's size, and failures as values (never thrown): what the
 * endpoint enricher and the HTTP SIEM sinks (Splunk HEC, Elasticsearch) send
 * their batches with.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TlsentryError } from './errors.js';

export type HttpResult =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number }
  | { kind: 'timeout'; ms: number }
  | { kind: 'network'; code: string; message: string; tls: boolean; ms: number }
  /** The answer was bigger than `maxResponseBytes`: read no further. */
  | { kind: 'too_large'; status: number; ms: number }
  /** `close()` was called while the request was in flight. */
  | { kind: 'aborted'; ms: number };

export interface HttpPostOptions {
  /** Base URL: scheme, host, port and an optional path prefix (a reverse proxy's). */
  url: string;
  /** PEM CA certificate(s) to trust instead of Node's bundled roots (a private CA). */
  ca?: Buffer;
  maxSockets?: number;
  maxResponseBytes: number;
  /**
   * Send once more on a fresh socket when a reused keep-alive socket is reset
   * before any answer (default true). Off for a caller that retries on its own.
   */
  retryStaleSocket?: boolean;
}

/** OpenSSL / Node codes of a certificate that did not verify: a configuration problem, said loudly. */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME/;

export class HttpPostClient {
  readonly base: URL;
  private readonly https: boolean;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly live = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: HttpPostOptions) {
    this.base = new URL(opts.url);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TlsentryError('ERR_CONFIG', `${opts.url}: only http:// and https:// URLs are supported`);
    }
    this.https = this.base.protocol === 'https:';
    const maxSockets = opts.maxSockets ?? 4;
    this.agent = this.https
      ? new HttpsAgent({ keepAlive: true, maxSockets, ca: opts.ca })
      : new HttpAgent({ keepAlive: true, maxSockets });
  }

  /** POST `body` to `path` (with its query string) under the base URL. */
  async post(path: string, body: Buffer, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<HttpResult> {
    const first = await this.once(path, body, headers, timeoutMs);
    // A keep-alive socket the server closed while idle fails on reuse with a
    // reset before any answer: that says nothing about the server, so try once
    // more on a fresh socket (the request was not processed, or is idempotent
    // enough for at-least-once delivery).
    if (first.kind === 'network' && first.reused && (first.code === 'ECONNRESET' || first.code === 'EPIPE') && this.opts.retryStaleSocket !== false) {
      return this.once(path, body, headers, timeoutMs);
    }
    return first;
  }

  private once(path: string, body: Buffer, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<HttpResult & { reused?: boolean }> {
    const t0 = performance.now();
    const ms = (): number => performance.now() - t0;
    return new Promise((done) => {
      if (this.closed) {
        done({ kind: 'aborted', ms: 0 });
        return;
      }
      let finished = false;
      let req: ReturnType<typeof httpRequest> | undefined;
      const finish = (r: HttpResult & { reused?: boolean }): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.live.delete(abort);
        done(r);
      };
      const abort = (): void => {
        req?.destroy();
        finish({ kind: 'aborted', ms: ms() });
      };
      const timer = setTimeout(() => {
        req?.destroy();
        finish({ kind: 'timeout', ms: ms() });
      }, timeoutMs);
      this.live.add(abort);
      const prefix = this.base.pathname.replace(/\/+$/, '');
      try {
        req = (this.https ? httpsRequest : httpRequest)(
          {
            protocol: this.base.protocol,
            hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
            port: this.base.port || (this.https ? 443 : 80),
            path: `${prefix}${path}`,
            method: 'POST',
            agent: this.agent,
            headers: { ...headers, 'content-length': String(body.length), accept: 'application/json' },
          },
          (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > this.opts.maxResponseBytes) {
                req?.destroy();
                finish({ kind: 'too_large', status: res.statusCode ?? 0, ms: ms() });
                return;
              }
              chunks.push(c);
            });
            res.on('end', () => finish({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: ms() }));
            res.on('error', (e: NodeJS.ErrnoException) => finish(networkResult(e, ms(), false)));
            res.on('aborted', () => finish({ kind: 'network', code: 'ECONNRESET', message: 'answer cut off', tls: false, ms: ms() }));
          },
        );
      } catch (e) {
        finish(networkResult(e as NodeJS.ErrnoException, ms(), false));
        return;
      }
      const r = req;
      r.on('error', (e: NodeJS.ErrnoException) => finish(networkResult(e, ms(), r.reusedSocket)));
      r.end(body);
    });
  }

  /** Abort what is in flight (it resolves as `aborted`); later requests are sent as usual. */
  abortAll(): void {
    for (const a of [...this.live]) a();
  }

  /** Abort what is in flight and close idle sockets; later requests resolve as `aborted`. */
  close(): void {
    this.closed = true;
    this.abortAll();
    this.agent.destroy();
  }
}

function networkResult(e: NodeJS.ErrnoException, ms: number, reused: boolean): HttpResult & { reused: boolean } {
  const code = e.code ?? 'ERR_NETWORK';
  return { kind: 'network', code, message: e.message, tls: TLS_CODES.test(code), ms, reused };
}
