/**
 * Capture stage: pcap / pcapng / gzip readers, directory expansion and
 * time-ordered merging. See `types.ts` for the reader contract.
 */
export * from './types.js';
export { openCapture, openCaptureStream, forEachPacket, type OpenOptions } from './open.js';
export { openCaptures, MergedReader } from './merge.js';
export { MAX_FRAME, type CaptureSet, type SkippedInput } from './base-reader.js';
