/** The simulator's network model: NAT boxes, links, ISPs, devices, adversary hooks and the transport. */
export * from './adversary.js';
export * from './device.js';
export * from './isp.js';
export * from './link.js';
export * from './nat.js';
export * from './network.js';
