/**
 * user_writable_image_path: the executable lives where users (and malware
 * they run) can write: on Windows under \Users\, \AppData\, \Temp\,
 * \ProgramData\, …; on Linux under /tmp, /var/tmp, /dev/shm, home
 * directories. Patterns come from configuration.
 */
import { isWindowsPath } from '../identity.js';
import type { Rule } from './context.js';

export const userWritableImagePath: Rule = {
  name: 'user_writable_image_path',
  evaluate({ view, config }) {
    const cfg = config.rules.user_writable_image_path;
    const exe = view.process?.executable;
    if (!exe) return null;
    const windows = isWindowsPath(exe);
    let matched: string | null = null;
    if (windows) {
      const p = exe.replace(/\//g, '\\').toLowerCase();
      matched = cfg.windows.find((f) => p.includes(f.toLowerCase())) ?? null;
    } else {
      matched = cfg.linux.find((f) => exe.startsWith(f)) ?? null;
    }
    if (matched === null) return null;
    return {
      name: 'user_writable_image_path',
      weight: cfg.weight,
      summary: `image ${exe} runs from a user-writable location (${matched})`,
      evidence: { executable: exe, matched, os: windows ? 'windows' : 'posix' },
    };
  },
};
