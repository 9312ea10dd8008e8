/**
 * Event delivery to SIEMs: the contract between the event writer, the
 * delivery queue (memory + on-disk spool) and each protocol's transport.
 *
 * The writer hands every event once, as its NDJSON line and its `event.id`.
 * A network sink never blocks the packet loop: `write` appends to a bounded
 * in-memory queue or, past it, to the spool; a transport delivers batches in
 * order and says per record what happened. Delivery is at-least-once: a
 * record is forgotten only when the transport says the SIEM has it (or
 * refused it for good); the SIEM drops duplicates by `event.id`.
 */

/** One event as the writer produced it. */
export interface EventRecord {
  /** `event.id`: the same for every copy of the event, so a SIEM can drop duplicates. */
  readonly id: string;
  /** The event's JSON text, UTF-8, without the trailing newline. */
  readonly line: Buffer;
}

/** What a transport says about one batch it was given. */
export interface DeliveryOutcome {
  /**
   * Indexes (into the batch, ascending) of records to send again later: the
   * SIEM was down, slow, or said "try again" (HTTP 429/503, a reset
   * connection). Every index not here and not in `rejected` was delivered.
   */
  retry: number[];
  /** Records the SIEM refused for good (a mapping error, a 400): counted, and kept in a dead-letter file. */
  rejected: { index: number; reason: string }[];
  /** The SIEM asked for this pause before the next attempt (Retry-After). */
  retryAfterMs?: number;
  /** Why a retry was needed, for logs and the `last_error` counter. */
  error?: string;
}

/** A protocol: syslog over TCP/TLS, Splunk HEC, Elasticsearch `_bulk`. */
export interface Transport {
  /** `syslog`, `splunk_hec`, `elasticsearch`: the sink name in counters and messages. */
  readonly kind: string;
  /**
   * Batches the queue may hand over before the first has resolved (default 1).
   * Calls are made in record order and the transport keeps that order on the
   * wire; outcomes are applied in call order. Syslog uses several, because it
   * resolves a batch only once its connection has stayed up for a while after
   * writing it (there are no acknowledgements to wait for).
   */
  readonly maxInFlight?: number;
  /** Deliver these records in this order. Resolves with an outcome; never rejects. */
  deliver(batch: readonly EventRecord[]): Promise<DeliveryOutcome>;
  /** Close connections; pending `deliver` calls resolve (with retries) first. */
  close(): Promise<void>;
}

/** Counters of one sink, exported in stats events and on /metrics. */
export interface SinkCounters {
  /** Records accepted by `write` (into memory or spool). */
  queued: number;
  /** Records that went through the on-disk spool. */
  spooled: number;
  /** Records the SIEM has (a transport said so). */
  delivered: number;
  /** Delivery attempts that had to be repeated (per record). */
  retried: number;
  /** Records refused for good by the SIEM (dead-lettered). */
  rejected: number;
  /** Records lost because the spool reached its disk limit. Should stay 0. */
  dropped: number;
  /** Records waiting now (memory + spool). */
  pending: number;
  /** `format: ocsf` sinks: events with no OCSF Network Activity form, not sent. */
  skipped?: number;
}

/** Where the writer's lines go: a file, standard output, or a network sink with its queue. */
export interface Sink {
  /** A name for messages and counters: `file`, `stdout`, `syslog`, `splunk_hec`, `elasticsearch` (+ `#n` when repeated). */
  readonly name: string;
  /** Take one event. Synchronous and never waits for the network. */
  write(rec: EventRecord): void;
  /** Write out buffered bytes (files) or nudge delivery (network sinks). */
  flush(): void;
  /** Reopen files after logrotate (SIGHUP); a no-op for network sinks. */
  reopen(): void;
  /**
   * Stop: deliver what is pending for up to `deadlineMs`, then leave the rest
   * in the spool for the next start.
   */
  close(deadlineMs?: number): Promise<void>;
  counters(): SinkCounters;
}
