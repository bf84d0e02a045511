/**
 * The crypto area's public face: the `Crypto` interface, its size constants and the two backends.
 * Protocol code takes a `Crypto` argument; `defaultCrypto` is what drivers hand in unless told otherwise.
 */
import type { Crypto } from './crypto.js';
import { nodeCrypto } from './node.js';

export * from './crypto.js';
export { nobleCrypto, nobleHkdfBytes } from './noble.js';
export {
  ed25519VerifyKeyCacheEntriesMax,
  nodeAeadOpen,
  nodeAeadSeal,
  nodeCrypto,
  nodeHkdfBytes,
  x25519PrivateKeyCacheEntriesMax,
  x25519PublicKeyCacheEntriesMax,
} from './node.js';

export const defaultCrypto: Crypto = nodeCrypto;
