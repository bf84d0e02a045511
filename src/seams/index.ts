export * from './clock.js';
export * from './rng.js';
export * from './transport.js';
