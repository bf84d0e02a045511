/** Test helpers for known-answer vectors: hex in (whitespace ignored), hex out, both backends. */
import { type Crypto, nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';

export { hex, toHex } from './hex.js';

export const backends: readonly Crypto[] = [nodeCrypto, nobleCrypto];
