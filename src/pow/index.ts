export * from './challenges.js';
export * from './pow.js';
