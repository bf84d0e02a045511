/** The shared DatagramTransport compliance suite, run against the simulator's transport. */
import { transportComplianceSuite } from '../../test/seams/compliance.js';
import { Kernel } from '../kernel/kernel.js';
import { SimNetwork, SimTransport } from './network.js';

transportComplianceSuite('simulated (SimNetwork)', async () => {
  const kernel = new Kernel({ seed: 'transport-compliance' });
  const net = new SimNetwork(kernel, { latencyMs: { eu: { eu: 10 } }, link: { jitterMeanMs: 2 } });
  return {
    bind: async (port?: number) => net.bind(net.addHost(), port),
    settle: async () => {
      kernel.run();
    },
    bindSameHost: async (t, port) => {
      if (!(t instanceof SimTransport)) throw new TypeError('not a simulated transport');
      return net.bind(t.host, port);
    },
    close: async () => {},
  };
});
