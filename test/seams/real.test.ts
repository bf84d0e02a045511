import { setTimeout as sleep } from 'node:timers/promises';
import { CryptoRng, WallClock } from '../../src/net/system.js';
import { UdpTransport } from '../../src/net/udp-transport.js';
import type { DatagramTransport } from '../../src/seams/transport.js';
import { clockComplianceSuite, rngComplianceSuite, transportComplianceSuite } from './compliance.js';

transportComplianceSuite('node:dgram on loopback', async () => {
  const open: DatagramTransport[] = [];
  const track = (t: DatagramTransport): DatagramTransport => {
    open.push(t);
    return t;
  };
  return {
    bind: async (port) => track(await UdpTransport.bind(port === undefined ? {} : { port })),
    bindSameHost: async (t, port) => track(await UdpTransport.bind({ address: t.local.address, port })),
    // Loopback delivery is prompt but asynchronous: wait for the event loop to drain the socket.
    settle: () => sleep(30),
    close: async () => {
      for (const t of open) t.close();
    },
  };
});

rngComplianceSuite('CSPRNG', () => new CryptoRng());

clockComplianceSuite('wall clock', () => ({ clock: new WallClock(), advance: () => sleep(1) }));
