import { it } from 'vitest';
import { summaryTable } from './report.js';
import { runTester2, tester2Defaults } from './tester2.js';

it('debug t2', async () => {
  const r = await runTester2({
    transport: 'sim',
    seed: '1',
    ...tester2Defaults,
    onProgress: (t) => console.log(t),
  });
  console.log(summaryTable(r), JSON.stringify(r.painMessages));
}, 600_000);
