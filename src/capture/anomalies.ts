/**
 * Anomalies of the capture stage (file framing, not packet contents), declared
 * once at module load. The readers keep the numeric ids and only call
 * `counters.inc(id)`.
 */
import { defineAnomaly } from '../shared/anomalies.js';

// ---- classic pcap ----------------------------------------------------------
export const A_PCAP_TRUNCATED_HEADER = defineAnomaly(
  'capture.pcap.truncated_header',
  'pcap file ends inside its 24-byte global header',
);
export const A_PCAP_TRUNCATED_RECORD = defineAnomaly(
  'capture.pcap.truncated_record',
  'pcap record (header or frame bytes) cut short by the end of the file',
);
export const A_PCAP_OVERSIZED_RECORD = defineAnomaly(
  'capture.pcap.oversized_record',
  'pcap record header claims a caplen above 256 KiB; the reader resynchronises on the next plausible record header',
);
export const A_PCAP_CAPLEN_GT_WIRELEN = defineAnomaly(
  'capture.pcap.caplen_exceeds_wirelen',
  'pcap record caplen larger than its wire length (wire length raised to caplen)',
);
export const A_PCAP_RESYNC = defineAnomaly(
  'capture.pcap.resync',
  'bytes skipped after a bad pcap record header until a plausible record header was found',
);
export const A_PCAP_TRAILING_GARBAGE = defineAnomaly(
  'capture.pcap.trailing_garbage',
  'bytes after the last pcap record that do not form a record (no plausible record header until end of file)',
);

// ---- pcapng ------------------------------------------------------------------
export const A_PCAPNG_TRUNCATED_BLOCK = defineAnomaly(
  'capture.pcapng.truncated_block',
  'pcapng block cut short by the end of the file',
);
export const A_PCAPNG_BAD_BLOCK_LENGTH = defineAnomaly(
  'capture.pcapng.bad_block_length',
  'pcapng block length < 12 or not a multiple of 4 (or an SHB < 28 bytes); reading of the file stops',
);
export const A_PCAPNG_LENGTH_MISMATCH = defineAnomaly(
  'capture.pcapng.block_length_mismatch',
  'pcapng block trailer length differs from its header length; reading of the file stops',
);
export const A_PCAPNG_BLOCK_TOO_SHORT = defineAnomaly(
  'capture.pcapng.block_too_short',
  'pcapng block shorter than the fixed fields of its type; block skipped',
);
export const A_PCAPNG_OVERSIZED_RECORD = defineAnomaly(
  'capture.pcapng.oversized_record',
  'pcapng packet block above the frame size limit (256 KiB frame + options); block skipped',
);
export const A_PCAPNG_OVERSIZED_BLOCK = defineAnomaly(
  'capture.pcapng.oversized_block',
  'pcapng section header or interface block above 320 KiB; options ignored',
);
export const A_PCAPNG_CAPLEN_EXCEEDS_BLOCK = defineAnomaly(
  'capture.pcapng.caplen_exceeds_block',
  'pcapng packet block caplen runs past the end of its block; block skipped',
);
export const A_PCAPNG_CAPLEN_GT_WIRELEN = defineAnomaly(
  'capture.pcapng.caplen_exceeds_wirelen',
  'pcapng packet caplen larger than its original length (wire length raised to caplen)',
);
export const A_PCAPNG_UNDEFINED_INTERFACE = defineAnomaly(
  'capture.pcapng.undefined_interface',
  'pcapng packet block references an interface not described in its section; block skipped',
);
export const A_PCAPNG_BAD_BYTE_ORDER = defineAnomaly(
  'capture.pcapng.bad_byte_order_magic',
  'pcapng section header with an unknown byte-order magic; reading of the file stops',
);
export const A_PCAPNG_UNSUPPORTED_VERSION = defineAnomaly(
  'capture.pcapng.unsupported_version',
  'pcapng section with a major version other than 1; its blocks are skipped up to the next section',
);
export const A_PCAPNG_BAD_OPTION = defineAnomaly(
  'capture.pcapng.bad_option',
  'malformed option in a pcapng interface description block (rest of its options ignored)',
);
export const A_PCAPNG_TOO_MANY_INTERFACES = defineAnomaly(
  'capture.pcapng.too_many_interfaces',
  'more than 65536 interface description blocks in one pcapng section; further ones ignored',
);

// ---- compression and inputs -----------------------------------------------------
export const A_GZIP_CORRUPT = defineAnomaly(
  'capture.gzip.corrupt',
  'gzip stream corrupt or truncated; the file ends at the last complete record',
);
export const A_INPUT_UNREADABLE = defineAnomaly(
  'capture.input.unreadable',
  'file in an input directory could not be opened or read; skipped',
);
