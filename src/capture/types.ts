/**
 * What the capture stage hands to decode: one reusable record per reader,
 * refilled for every packet (no per-packet objects on the hot path).
 * `data[offset .. offset+caplen)` is the frame; it is only valid until the
 * reader's next `next()` or `fill()` call — copy what must outlive it.
 */
export class PacketRecord {
  /** LINKTYPE_* value of the interface this frame came from. */
  linkType = 0;
  /** Capture time, microseconds since the Unix epoch (nanosecond files are truncated). */
  tsMicros = 0;
  data: Buffer = EMPTY;
  offset = 0;
  /** Bytes present in the capture. */
  caplen = 0;
  /** Bytes on the wire (>= caplen when the snap length cut the frame). */
  wirelen = 0;
  /** Index of the input file when several are merged. */
  input = 0;
}

const EMPTY = Buffer.alloc(0);

/** `PacketReader.next()` results. */
export const NEXT_PACKET = 1;
export const NEXT_END = 0;
/** The reader's buffer is exhausted: `await reader.fill()` and call `next()` again. */
export const NEXT_NEED_DATA = -1;
export type NextResult = typeof NEXT_PACKET | typeof NEXT_END | typeof NEXT_NEED_DATA;

export type CaptureFormat = 'pcap' | 'pcapng';

export interface PacketReader {
  readonly format: CaptureFormat | 'merged';
  /** Name of the input (path or '-'). */
  readonly name: string;
  /** Fill `pkt` with the next packet, synchronously, from buffered bytes. */
  next(pkt: PacketRecord): NextResult;
  /** Load more bytes from the underlying source (file, gzip stream, stdin). */
  fill(): Promise<void>;
  /** Bytes of input consumed so far (compressed bytes for gzip), for progress. */
  readonly bytesRead: number;
  /** Total input size when known (regular files), else -1. */
  readonly totalBytes: number;
  close(): void;
}

/** Link types (https://www.tcpdump.org/linktypes.html) that decode knows. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
