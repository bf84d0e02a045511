/**
 * The developer's vision: attention levels, records, the channel with its per-peer rings and pain
 * hook, and the trace format. Pure: no clock, no I/O (the file sink lives in `sim/trace`).
 */
export * from './attention.js';
export * from './channel.js';
export * from './record.js';
export * from './ring.js';
export * from './snapshot.js';
export * from './trace.js';
