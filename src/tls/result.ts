/**
 * What a message parser returns: the message, or how far it got.
 *
 * - `ok`: every field was read.
 * - `incomplete`: the bytes ended first; `needed` more bytes would have let
 *   the next field be read, and `partial` holds the fields read so far.
 * - `error`: a length or value contradicts the format; `partial` holds the
 *   fields read before it.
 *
 * Format problems found on the way (a bad extension body, a duplicate) are
 * listed in `issues` as anomaly ids: the parser names them, the session
 * counts them.
 */
export type ParseResult<T> =
  | { readonly status: 'ok'; readonly value: T; readonly issues: readonly number[] }
  | { readonly status: 'incomplete'; readonly needed: number; readonly partial: T; readonly issues: readonly number[] }
  | { readonly status: 'error'; readonly reason: string; readonly partial: T; readonly issues: readonly number[] };

/** An extension as it appeared: its type and where its value lies in the message body. */
export interface ExtensionRef {
  readonly type: number;
  /** Offset of the value from the start of the handshake message body (after the 4-byte header). */
  readonly offset: number;
  readonly length: number;
}
