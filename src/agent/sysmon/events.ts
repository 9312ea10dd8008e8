/**
 * Sysmon events from JSON files: one object per line (NDJSON), or a JSON
 * array of events; flat (`EventID`, `Hostname`/`Computer`, data fields at the
 * top) or Winlogbeat-nested (`winlog.event_id`, `winlog.computer_name`,
 * `winlog.event_data`); gzip allowed (by magic, whatever the name); a
 * directory is read recursively. Anything else in a file is skipped and
 * counted, never fatal.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface SysmonEvent {
  eid: number;
  /** Computer name as written in the event. */
  host: string;
  /** `UtcTime` in epoch ms (the event's own clock), or null. */
  utcMs: number | null;
  /** When the event was written to the log (`TimeCreated` / `@timestamp`), epoch ms, or null. */
  createdMs: number | null;
  /** Event data, every value a string. */
  data: Record<string, string>;
}

const TIME_RE = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/;

/** `2023-09-05 16:48:09.577` (UTC, Sysmon's format) or RFC 3339 → epoch ms. */
export function parseSysmonTime(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = TIME_RE.exec(s.trim());
  if (!m) return null;
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  let ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) + frac;
  if (m[8] && m[8] !== 'Z') {
    const sign = m[8][0] === '-' ? -1 : 1;
    const hh = Number(m[8].slice(1, 3));
    const mm = Number(m[8].slice(-2));
    ms -= sign * (hh * 60 + mm) * 60_000;
  }
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The process start time encoded in a Sysmon ProcessGuid: the second and
 * third groups, read as Data3 then Data2, are the epoch seconds
 * ({ec2b781c-05c5-64f8-…} → 0x64f805c5 = 2023-09-06T04:53:25Z). Checked on
 * the OTRF data: EID 1 UtcTime − decoded time lies in [0, 1) s for all
 * 260 EID 1 events of campaigns 02 and 05.
 */
export function guidStartMs(guid: string | undefined): number | null {
  if (!guid) return null;
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.exec(guid.trim());
  if (!m) return null;
  const sec = parseInt(m[3] + m[2], 16);
  // plausible: 2000-01-01 … 2100-01-01
  if (sec < 946684800 || sec > 4102444800) return null;
  return sec * 1000;
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

function stringify(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    const s = str(v);
    if (s !== null) out[k] = s;
  }
  return out;
}

/** A Sysmon event from one parsed JSON value, or null when it is not one. */
export function normalizeEvent(obj: unknown): SysmonEvent | null {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  const winlog = o.winlog as Record<string, unknown> | undefined;
  let data: Record<string, string>;
  let eid: number;
  let host: string | null;
  let created: number | null;
  if (winlog && typeof winlog === 'object' && winlog.event_data && typeof winlog.event_data === 'object') {
    const provider = str(winlog.provider_name) ?? str(winlog.channel);
    if (provider && !/sysmon/i.test(provider)) return null;
    data = stringify(winlog.event_data as Record<string, unknown>);
    const ev = o.event as Record<string, unknown> | undefined;
    eid = Number(winlog.event_id ?? ev?.code);
    const h = o.host as Record<string, unknown> | undefined;
    host = str(winlog.computer_name) ?? str(h?.name) ?? str(h?.hostname);
    created = parseSysmonTime(o['@timestamp']) ?? parseSysmonTime(ev?.created);
  } else if (o.EventID !== undefined) {
    const provider = str(o.SourceName) ?? str(o.ProviderName) ?? str(o.Channel);
    if (provider && !/sysmon/i.test(provider)) return null;
    data = stringify(o);
    eid = Number(o.EventID);
    const h = o.host as Record<string, unknown> | undefined;
    host = str(o.Hostname) ?? str(o.Computer) ?? str(o.ComputerName) ?? (h && typeof h === 'object' ? (str(h.name) ?? str(h.hostname)) : null);
    created = parseSysmonTime(o.TimeCreated) ?? parseSysmonTime(o['@timestamp']);
  } else {
    return null;
  }
  if (!Number.isInteger(eid) || eid <= 0 || eid > 255) return null;
  return { eid, host: host && host.length > 0 ? host : 'unknown-host', utcMs: parseSysmonTime(data.UtcTime), createdMs: created, data };
}

const EXT_RE = /\.(json|jsonl|ndjson|log|gz)$/i;
const MAX_FILE = 512 * 1024 * 1024;
const MAX_LINE = 1024 * 1024;

/** Event files under `path` (a file is taken as is; a directory recursively, by extension). */
export function listEventFiles(path: string): string[] {
  const st = statSync(path);
  if (st.isFile()) return [path];
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      let s;
      try {
        s = statSync(p);
      } catch {
        continue;
      }
      if (s.isDirectory()) walk(p, depth + 1);
      else if (s.isFile() && EXT_RE.test(name)) out.push(p);
    }
  };
  walk(path, 0);
  return out;
}

export interface FileRead {
  events: SysmonEvent[];
  /** Records consumed (lines, or array elements). */
  records: number;
  skipped: number;
  /** Plain NDJSON: byte offset just after the last complete line consumed (to resume from); null otherwise. */
  bytes: number | null;
}

function readFrom(path: string, from: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = Math.min(fstatSync(fd).size, from + MAX_FILE);
    const len = Math.max(0, size - from);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read the events of one file. A gzip file or a JSON array is read whole,
 * skipping the first `skipRecords` records (already read); a plain NDJSON
 * file is read from byte `fromByte` (where the previous read stopped).
 */
export function readEventFile(path: string, skipRecords = 0, fromByte = 0): FileRead {
  let buf = fromByte > 0 ? readFrom(path, fromByte) : readFileSync(path);
  if (buf.length > MAX_FILE) buf = buf.subarray(0, MAX_FILE);
  let plain = true;
  if (fromByte === 0 && buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    plain = false;
    try {
      buf = gunzipSync(buf, { maxOutputLength: MAX_FILE });
    } catch {
      return { events: [], records: skipRecords, skipped: 1, bytes: null };
    }
  }
  const out: FileRead = { events: [], records: 0, skipped: 0, bytes: null };
  let first = 0;
  while (first < buf.length && (buf[first] === 0x20 || buf[first] === 0x0a || buf[first] === 0x0d || buf[first] === 0x09)) first++;
  if (fromByte === 0 && buf[first] === 0x5b /* [ */) {
    let arr: unknown;
    try {
      arr = JSON.parse(buf.toString('utf8'));
    } catch {
      out.skipped++;
      return out;
    }
    if (!Array.isArray(arr)) return out;
    for (const item of arr) {
      out.records++;
      if (out.records <= skipRecords) continue;
      const e = normalizeEvent(item);
      if (e) out.events.push(e);
      else out.skipped++;
    }
    return out;
  }
  let pos = 0;
  let consumed = 0;
  const n = buf.length;
  while (pos < n) {
    let end = buf.indexOf(0x0a, pos);
    const terminated = end >= 0;
    if (!terminated) end = n;
    const line = buf.toString('utf8', pos, end).trim();
    if (!terminated) {
      // the last line may still be being written: take it only if it is complete JSON
      let complete = false;
      try {
        JSON.parse(line);
        complete = line.length > 0;
      } catch {
        complete = false;
      }
      if (!complete) break;
    }
    pos = end + 1;
    consumed = Math.min(pos, n);
    out.records++;
    if (out.records <= skipRecords) continue;
    if (line.length === 0) continue;
    if (line[0] !== '{' || line.length > MAX_LINE) {
      out.skipped++;
      continue;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      out.skipped++;
      continue;
    }
    const e = normalizeEvent(obj);
    if (e) out.events.push(e);
    else out.skipped++;
  }
  out.bytes = plain ? fromByte + consumed : null;
  return out;
}
