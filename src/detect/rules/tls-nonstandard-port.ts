/**
 * tls_nonstandard_port: TLS to a port not in `standard_ports` (MITRE AN0763:
 * TLS on ports not normally encrypted, such as 8080 or 53). TLS after a
 * plaintext prefix (STARTTLS, HTTP CONNECT, SOCKS) is judged by that
 * protocol, not here. With `skip_known_destination`, a destination the
 * process has used before (baseline) does not count.
 */
import type { Rule } from './context.js';

/** What the port usually carries, for the analyst. */
const USUAL: Record<number, string> = {
  21: 'ftp', 22: 'ssh', 23: 'telnet', 25: 'smtp', 53: 'dns', 80: 'http', 110: 'pop3', 123: 'ntp', 143: 'imap',
  445: 'smb', 1080: 'socks', 3128: 'http proxy', 3389: 'rdp', 4444: 'metasploit default', 6666: 'irc',
  6667: 'irc', 8000: 'http-alt', 8080: 'http-alt', 8888: 'http-alt',
};

export const tlsNonstandardPort: Rule = {
  name: 'tls_nonstandard_port',
  evaluate({ input, view, history, config }) {
    const cfg = config.rules.tls_nonstandard_port;
    const tls = input.tls;
    if (!view.isTls || !tls || tls.prefix !== null) return null;
    const port = input.flow.dstPort;
    if (cfg.standard_ports.includes(port)) return null;
    const known = history?.host?.destinationKnown ?? false;
    if (known && cfg.skip_known_destination) return null;
    const usual = USUAL[port] ?? null;
    return {
      name: 'tls_nonstandard_port',
      weight: cfg.weight,
      summary: `TLS to ${view.destination}: port ${port}${usual ? ` (usually ${usual})` : ''} is not a standard TLS port`,
      evidence: {
        port,
        usual_service: usual,
        destination: view.destination,
        destination_known_for_process: known,
        standard_ports: [...cfg.standard_ports],
      },
    };
  },
};
