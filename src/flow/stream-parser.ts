/**
 * The contract between TCP reassembly and an application-layer parser
 * (Suricata's app-layer-parser.h): reassembly knows no protocol; the parser
 * says how much it consumed and how much more it needs.
 *
 * Direction 0 is client → server, 1 is server → client.
 */
export type Direction = 0 | 1;

export interface StreamParser {
  /**
   * In-order stream bytes `buf[start, end)` for one direction. Valid only
   * during the call. Returns how many bytes were consumed:
   *  - `< end - start`: the rest is kept by reassembly and offered again,
   *    prefixed to the next bytes, once at least `needed(dir)` bytes are
   *    buffered (a record header that said "1,800 bytes follow");
   *  - `> end - start`: skip that many bytes in total, without delivering them
   *    (an encrypted record body the parser only counts).
   */
  onData(dir: Direction, buf: Buffer, start: number, end: number): number;
  /** Bytes the parser needs buffered before the next call in `dir` (>= 1). */
  needed(dir: Direction): number;
  /** A hole of `length` bytes in `dir`: the parser must resynchronise or give up. */
  onGap(dir: Direction, length: number): void;
  /** False once the parser needs no more bytes at all in either direction. */
  wantsData(): boolean;
  /**
   * Bytes of `dir`, within buffers `onData` was given, that the parser passed
   * over without reading (encrypted record bodies it only counts). They do not
   * count against the reassembly depth: after the handshake a TLS stream costs
   * a few operations per record, so a 100 MB upload keeps its record-level
   * byte counts instead of stopping at the depth (Suricata stops inspecting
   * encrypted TLS instead; tlsentry needs the counts for asymmetry).
   */
  opaqueBytes?(dir: Direction): number;
  /** The flow ended (after the last bytes and gaps were delivered): report what was cut short. */
  onEnd?(): void;
  /**
   * Whoever read the parser's results after the flow ended is done with them
   * (FlowTable.release): the parser and what it produced may be reused for
   * another flow by the factory that made it. Not called for every parser;
   * one never released is simply collected.
   */
  release?(): void;
}

/** Chooses a parser for a new flow (or none). Called once per flow. */
export type StreamParserFactory = (flow: FlowFacts) => StreamParser | null;

/** What a parser factory may know of the flow it serves. */
export interface FlowFacts {
  readonly clientPort: number;
  readonly serverPort: number;
  /** Capture time (µs) of the flow's newest packet: the packet whose bytes are being delivered. */
  readonly lastTs: number;
}
