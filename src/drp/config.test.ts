import { describe, expect, it } from 'vitest';
import { type DrpConfig, drpConfigDefault, validateDrpConfig } from './config.js';

function with_(patch: Partial<Record<keyof DrpConfig, unknown>>): DrpConfig {
  return { ...drpConfigDefault, ...patch } as DrpConfig;
}

describe('validateDrpConfig', () => {
  it('accepts the defaults', () => {
    expect(validateDrpConfig(drpConfigDefault)).toBeUndefined();
  });

  it('defaults follow the documented protocol constants', () => {
    expect(drpConfigDefault.timestampToleranceMs).toBe(20 * 60_000);
    expect(drpConfigDefault.retransmitFirstMs).toBe(350);
    expect(drpConfigDefault.retransmitBackoff).toBe(1.5);
    expect(drpConfigDefault.requestExpiryMs).toBe(8_000);
    expect(drpConfigDefault.responseCacheMs).toBe(15_000);
    expect(drpConfigDefault.hopsMax).toBe(30);
    expect([
      drpConfigDefault.neighborsMin,
      drpConfigDefault.neighborsSoftMax,
      drpConfigDefault.neighborsHardMax,
    ]).toEqual([12, 14, 18]);
    expect(drpConfigDefault.linkDeadAfterMs).toBe(12_000);
  });

  const positiveKeys = Object.keys(drpConfigDefault).filter(
    (k) =>
      ![
        'powBits',
        'randomHopsMax',
        'retransmitBackoff',
        'initialPingBackoff',
        'extensionViaEntryRatio',
      ].includes(k),
  ) as (keyof DrpConfig)[];

  for (const k of positiveKeys) {
    it(`rejects non-positive or non-finite ${k}, naming it`, () => {
      for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
        const msg = validateDrpConfig(with_({ [k]: bad }));
        expect(msg, `${k}=${String(bad)}`).toBeDefined();
        expect(msg).toContain(k);
      }
    });
  }

  const cases: [string, Partial<Record<keyof DrpConfig, unknown>>, string][] = [
    ['powBits negative', { powBits: -1 }, 'powBits'],
    ['powBits fractional', { powBits: 1.5 }, 'powBits'],
    ['powBits too large', { powBits: 41 }, 'powBits'],
    ['retransmitBackoff < 1', { retransmitBackoff: 0.9 }, 'retransmitBackoff'],
    ['initialPingBackoff < 1', { initialPingBackoff: 0.5 }, 'initialPingBackoff'],
    ['hopsMax > 255', { hopsMax: 256 }, 'hopsMax'],
    ['randomHopsMax negative', { randomHopsMax: -1 }, 'randomHopsMax'],
    ['randomHopsMax >= hopsMax', { randomHopsMax: 30 }, 'randomHopsMax'],
    ['neighborsMin > neighborsSoftMax', { neighborsMin: 15 }, 'neighborsMin'],
    ['neighborsSoftMax > neighborsHardMax', { neighborsSoftMax: 19 }, 'neighborsHardMax'],
    ['linkDeadAfterMs <= pingIntervalMs', { linkDeadAfterMs: 3_000 }, 'linkDeadAfterMs'],
    ['extensionViaEntryRatio > 1', { extensionViaEntryRatio: 1.1 }, 'extensionViaEntryRatio'],
    ['extensionViaEntryRatio NaN', { extensionViaEntryRatio: Number.NaN }, 'extensionViaEntryRatio'],
  ];
  for (const [name, patch, param] of cases) {
    it(`rejects ${name}, naming ${param}`, () => {
      const msg = validateDrpConfig(with_(patch));
      expect(msg).toBeDefined();
      expect(msg).toContain(param);
    });
  }

  it('accepts the edges of each range', () => {
    expect(validateDrpConfig(with_({ powBits: 0 }))).toBeUndefined();
    expect(validateDrpConfig(with_({ powBits: 40 }))).toBeUndefined();
    expect(validateDrpConfig(with_({ randomHopsMax: 0 }))).toBeUndefined();
    expect(validateDrpConfig(with_({ randomHopsMax: 29 }))).toBeUndefined();
    expect(validateDrpConfig(with_({ retransmitBackoff: 1 }))).toBeUndefined();
    expect(
      validateDrpConfig(with_({ neighborsMin: 14, neighborsSoftMax: 14, neighborsHardMax: 14 })),
    ).toBeUndefined();
    expect(validateDrpConfig(with_({ extensionViaEntryRatio: 0 }))).toBeUndefined();
    expect(validateDrpConfig(with_({ extensionViaEntryRatio: 1 }))).toBeUndefined();
  });
});
