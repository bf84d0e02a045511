import { Kernel } from '../../sim/kernel/kernel.js';
import { SeededRng } from '../../sim/kernel/rng.js';
import { clockComplianceSuite, rngComplianceSuite } from './compliance.js';

rngComplianceSuite('seeded (simulator)', () => new SeededRng('compliance'));

clockComplianceSuite('virtual clock (simulator)', () => {
  const k = new Kernel({ seed: 'clock' });
  const tick = k.kind('test.tick');
  return {
    clock: k.clock,
    advance: async () => {
      k.after(1 + k.rng.int(5), tick, 0, 0, () => {});
      k.run();
    },
  };
});
