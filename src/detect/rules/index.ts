/** Every rule, in the order their hits are listed when weights tie. */
import { asymmetricEgress } from './asymmetric-egress.js';
import type { Rule } from './context.js';
import { listedUnexpectedProcess } from './listed-unexpected-process.js';
import { newTlsProcess } from './new-tls-process.js';
import { noSni } from './no-sni.js';
import { nonstandardChain } from './nonstandard-chain.js';
import { tlsNonstandardPort } from './tls-nonstandard-port.js';
import { unexpectedTlsLibrary } from './unexpected-tls-library.js';
import { userWritableImagePath } from './user-writable-image-path.js';

export type { FlowView, LoadedLibrary, Rule, RuleContext } from './context.js';
export { timeMicros } from './context.js';

export const RULES: readonly Rule[] = [
  newTlsProcess,
  unexpectedTlsLibrary,
  asymmetricEgress,
  nonstandardChain,
  listedUnexpectedProcess,
  userWritableImagePath,
  tlsNonstandardPort,
  noSni,
];

export {
  asymmetricEgress,
  listedUnexpectedProcess,
  newTlsProcess,
  noSni,
  nonstandardChain,
  tlsNonstandardPort,
  unexpectedTlsLibrary,
  userWritableImagePath,
};
