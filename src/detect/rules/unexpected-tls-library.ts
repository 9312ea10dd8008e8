/**
 * unexpected_tls_library: the process's TLS libraries do not fit its TLS.
 * Findings, each with its own weight (the hit weighs the heaviest):
 *
 * - `late_load`: a TLS provider (schannel, ncryptsslp, libssl, …) was loaded
 *   `late_load_after` or more after the process started — the strongest single
 *   sign in the OTRF data (an injected svchost loaded schannel 5.7 days in).
 * - `after_remote_thread`: a TLS provider was loaded within
 *   `remote_thread_window` after a remote-thread annotation (Sysmon EID 8).
 * - `no_library`: TLS on the wire, no TLS provider or HTTP stack loaded, no
 *   static stack known and not a TLS-capable runtime (java): the TLS code
 *   came from somewhere the loader did not see (reflective loading,
 *   shellcode). Only with `assume_module_visibility`.
 * - `fresh_process`: MITRE's correlation of process creation, TLS library
 *   load and encrypted connection within `time_window`, for an identity with
 *   no TLS history on this host (the library is unexpected for it). A library
 *   the agent found already mapped (load time unknown, e.g. `import ssl` in
 *   python between two polls) counts when it was first seen mapped within
 *   the window: it was loaded between the start and then.
 * - `family_mismatch`: the JA4 is listed in `fingerprint_families` as one
 *   TLS family (say schannel) while only providers of other families are
 *   loaded (say libssl). Conservative on purpose: it fires only for
 *   fingerprints the operator mapped, only when at least one provider is
 *   loaded, and never when the fingerprint's family is loaded or static.
 *
 * HTTP stacks (winhttp, wininet) are weak evidence: many processes load
 * them and never speak TLS. They only prevent `no_library`.
 */
import { imageBaseName } from '../identity.js';
import { staticStackFamily } from '../libraries.js';
import type { LoadedLibrary, Rule, RuleContext } from './context.js';
import { isoMicros, seconds, timeMicros } from './context.js';

/** Providers loaded at least `late_load_after` after the process started (and in time for this flow). */
export function lateProviderLoads(view: RuleContext['view'], lateAfterSeconds: number): { lib: LoadedLibrary; afterStartSeconds: number }[] {
  const start = view.processStartMicros;
  if (start === null) return [];
  const out: { lib: LoadedLibrary; afterStartSeconds: number }[] = [];
  for (const lib of view.libraries) {
    if (lib.strength !== 'provider' || !lib.servedFlow || lib.loadMicros === null) continue;
    const after = lib.loadMicros - start;
    if (after >= lateAfterSeconds * 1e6) out.push({ lib, afterStartSeconds: seconds(after) });
  }
  return out;
}

type Finding = { kind: string; weight: number; text: string; [k: string]: unknown };

export const unexpectedTlsLibrary: Rule = {
  name: 'unexpected_tls_library',
  evaluate({ input, view, history, config }) {
    const cfg = config.rules.unexpected_tls_library;
    const p = view.process;
    if (!p || !view.isTls) return null;
    const findings: Finding[] = [];
    const providers = view.libraries.filter((l) => l.strength === 'provider' && l.servedFlow);
    const http = view.libraries.filter((l) => l.strength === 'http' && l.servedFlow);
    const start = view.processStartMicros;
    const flowStart = input.flow.startMicros;

    for (const { lib, afterStartSeconds } of lateProviderLoads(view, cfg.late_load_after)) {
      findings.push({
        kind: 'late_load',
        weight: cfg.weight_late_load,
        text: `${imageBaseName(lib.path)} loaded ${afterStartSeconds} s after the process started (≥ ${cfg.late_load_after} s)`,
        library: lib.path,
        process_start: isoMicros(start),
        load_time: isoMicros(lib.loadMicros),
        loaded_after_start_seconds: afterStartSeconds,
      });
      break;
    }

    const annotations = p.annotations ?? [];
    remote: for (const a of annotations) {
      if (!cfg.remote_thread_annotations.includes(a.kind)) continue;
      const t = timeMicros(a.time);
      if (t === null) continue;
      const at = t - view.clockOffsetMicros;
      for (const lib of providers) {
        if (lib.loadMicros === null) continue;
        const d = lib.loadMicros - at;
        if (d >= 0 && d <= cfg.remote_thread_window * 1e6) {
          findings.push({
            kind: 'after_remote_thread',
            weight: cfg.weight_after_remote_thread,
            text: `${imageBaseName(lib.path)} loaded ${seconds(d)} s after ${a.kind} at ${a.time}`,
            library: lib.path,
            load_time: isoMicros(lib.loadMicros),
            annotation: { kind: a.kind, time: a.time, detail: a.detail },
            seconds_after_annotation: seconds(d),
          });
          break remote;
        }
      }
    }

    const name = imageBaseName(p.executable ?? p.name ?? '') ?? '';
    const runtime = cfg.tls_capable_runtimes.some((r) => r.toLowerCase() === name.toLowerCase());
    if (cfg.assume_module_visibility && providers.length === 0 && http.length === 0 && !p.static_tls_stack && !runtime) {
      findings.push({
        kind: 'no_library',
        weight: cfg.weight_no_library,
        text: `TLS on the wire but no TLS library loaded and no static TLS stack known`,
        modules_reported: view.libraries.length,
        loaded_later: view.libraries.filter((l) => !l.servedFlow && l.strength !== 'crypto').map((l) => l.path),
      });
    }

    // An unsigned image updated in place keeps its path's history (as new_tls_process's changed_binary).
    const pathHistory = view.identity?.basis === 'signer' ? 0 : (history?.samePathOnHost.unsignedTlsFlows ?? 0);
    const noTlsHistory = (history?.host?.tlsFlows ?? 0) === 0 && pathHistory === 0;
    if (start !== null && noTlsHistory) {
      const window = cfg.time_window * 1e6;
      const flowAfter = flowStart - start;
      // The load time, or its upper bound: when the agent first saw the library mapped.
      const loadedBy = (l: LoadedLibrary) => l.loadMicros ?? l.observedMicros;
      const fresh = providers.find((l) => {
        const t = loadedBy(l);
        return t !== null && t - start <= window && t >= start;
      });
      if (fresh && flowAfter >= 0 && flowAfter <= window) {
        const exact = fresh.loadMicros !== null;
        const after = seconds(loadedBy(fresh)! - start);
        findings.push({
          kind: 'fresh_process',
          weight: cfg.weight_fresh_process,
          text: `process with no TLS history started, loaded ${imageBaseName(fresh.path)} ${exact ? `${after} s later` : `within ${after} s (first seen mapped then)`} and connected ${seconds(flowAfter)} s after start (window ${cfg.time_window} s)`,
          library: fresh.path,
          process_start: isoMicros(start),
          load_time: isoMicros(fresh.loadMicros),
          /** `load_time`, or `first_observed`: the load time is unknown, and `library_after_start_seconds` is an upper bound. */
          load_time_basis: exact ? 'load_time' : 'first_observed',
          first_observed: isoMicros(fresh.observedMicros),
          library_after_start_seconds: after,
          flow_after_start_seconds: seconds(flowAfter),
          time_window_seconds: cfg.time_window,
        });
      }
    }

    const ja4 = input.tls?.ja4 ?? null;
    if (ja4 && providers.length > 0) {
      let family: string | null = null;
      let matchedKey: string | null = null;
      for (const [k, f] of Object.entries(cfg.fingerprint_families)) {
        if (ja4 === k || ja4.startsWith(k)) {
          family = f.toLowerCase();
          matchedKey = k;
          break;
        }
      }
      const loaded = [...new Set(providers.map((l) => l.family).filter((f): f is string => f !== null))];
      const staticFamily = staticStackFamily(p.static_tls_stack);
      if (family && loaded.length > 0 && !loaded.includes(family) && staticFamily !== family) {
        findings.push({
          kind: 'family_mismatch',
          weight: cfg.weight_family_mismatch,
          text: `client fingerprint ${ja4} is listed as ${family}, but the process loaded only ${loaded.join(', ')}`,
          ja4,
          fingerprint_key: matchedKey,
          fingerprint_family: family,
          loaded_families: loaded,
          static_tls_stack: p.static_tls_stack,
        });
      }
    }

    if (findings.length === 0) return null;
    findings.sort((a, b) => b.weight - a.weight);
    return {
      name: 'unexpected_tls_library',
      weight: findings[0]!.weight,
      summary: findings.map((f) => f.text).join('; '),
      evidence: {
        findings: findings.map(({ text, ...rest }) => ({ ...rest, summary: text })),
        libraries: view.libraries
          .filter((l) => l.strength === 'provider' || l.strength === 'http')
          .map((l) => ({ path: l.path, family: l.family, strength: l.strength, load_time: isoMicros(l.loadMicros), served_flow: l.servedFlow })),
        static_tls_stack: p.static_tls_stack,
        process_start: isoMicros(start),
        /** Endpoint times above are in the packet clock: the host's minus this. */
        clock_offset_seconds: view.clockOffsetMicros / 1e6,
      },
    };
  },
};
