/**
 * Operational failures (a file that cannot be opened, a bad option) are
 * exceptions with fixed codes, as in undici's `lib/core/errors.js`. Protocol
 * problems in the traffic are never exceptions: they are anomaly counters.
 */
export type TlsentryErrorCode =
  | 'ERR_CAPTURE_OPEN'
  | 'ERR_CAPTURE_FORMAT'
  | 'ERR_CAPTURE_READ'
  | 'ERR_USAGE'
  | 'ERR_CONFIG'
  | 'ERR_OUTPUT'
  | 'ERR_AGENT'
  | 'ERR_ENDPOINT'
  | 'ERR_BASELINE';

export class TlsentryError extends Error {
  readonly code: TlsentryErrorCode;
  constructor(code: TlsentryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TlsentryError';
  }
}
