/**
 * A small JSON POST over node:http/https with keep-alive, a hard timeout and
 * a cap on the answer size. Failures come back as values, never thrown.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export type PostOutcome =
  | { kind: 'response'; status: number; body: Buffer; ms: number }
  | { kind: 'timeout'; ms: number }
  | { kind: 'network'; message: string; ms: number }
  | { kind: 'too_large'; ms: number }
  | { kind: 'aborted'; ms: number };

export interface PostClientOptions {
  url: string;
  token: string;
  ca?: Buffer;
  maxSockets: number;
  maxResponseBytes?: number;
}

export class PostClient {
  private readonly target: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly https: boolean;
  private readonly maxResponse: number;
  private readonly live = new Set<{ abort(): void }>();

  constructor(private readonly opts: PostClientOptions) {
    this.target = new URL(opts.url);
    this.https = this.target.protocol === 'https:';
    this.maxResponse = opts.maxResponseBytes ?? 64 * 1024 * 1024;
    this.agent = this.https
      ? new HttpsAgent({ keepAlive: true, maxSockets: opts.maxSockets, ca: opts.ca })
      : new HttpAgent({ keepAlive: true, maxSockets: opts.maxSockets });
  }

  /** POST `body` (JSON text) to `path` under the base URL. */
  post(path: string, body: string, timeoutMs: number): Promise<PostOutcome> {
    const t0 = performance.now();
    const ms = (): number => performance.now() - t0;
    return new Promise<PostOutcome>((resolve) => {
      let done = false;
      const finish = (o: PostOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.live.delete(handle);
        resolve(o);
      };
      const base = this.target.pathname.replace(/\/+$/, '');
      const options = {
        protocol: this.target.protocol,
        hostname: this.target.hostname.replace(/^\[|\]$/g, ''),
        port: this.target.port || (this.https ? 443 : 80),
        path: `${base}${path}`,
        method: 'POST',
        agent: this.agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${this.opts.token}`,
          accept: 'application/json',
        },
      };
      let req: ReturnType<typeof httpRequest>;
      try {
        req = (this.https ? httpsRequest : httpRequest)(options, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.maxResponse) {
              req.destroy();
              finish({ kind: 'too_large', ms: ms() });
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => finish({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: ms() }));
          res.on('error', (e) => finish({ kind: 'network', message: e.message, ms: ms() }));
          res.on('aborted', () => finish({ kind: 'network', message: 'response aborted', ms: ms() }));
        });
      } catch (e) {
        resolve({ kind: 'network', message: (e as Error).message, ms: ms() });
        return;
      }
      const handle = {
        abort: () => {
          req.destroy();
          finish({ kind: 'aborted', ms: ms() });
        },
      };
      this.live.add(handle);
      const timer = setTimeout(() => {
        req.destroy();
        finish({ kind: 'timeout', ms: ms() });
      }, timeoutMs);
      req.on('error', (e) => finish({ kind: 'network', message: e.message, ms: ms() }));
      req.end(body);
    });
  }

  /** Abort every request in flight (they resolve as `aborted`). */
  abortAll(): void {
    for (const h of [...this.live]) h.abort();
  }

  close(): void {
    this.abortAll();
    this.agent.destroy();
  }
}
