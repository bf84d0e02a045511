import { describe, expect, it } from 'vitest';
import {
  AttentionLevel,
  attentionLevelCount,
  attentionOff,
  isAttentionLevel,
  isAttentionThreshold,
  isPain,
  levelName,
  painLevelMin,
  parseLevelName,
} from './attention.js';

describe('attention levels', () => {
  it('has the original ten levels with their numbers', () => {
    expect(AttentionLevel).toEqual({
      deepDetail: 0,
      detail: 1,
      higherLevelDetail: 2,
      guiActivity: 3,
      needsAttention: 4,
      guiPain: 5,
      lightPain: 6,
      mediumPain: 7,
      strongPain: 8,
      death: 9,
    });
    expect(attentionLevelCount).toBe(10);
  });

  it('names every level and parses the names back', () => {
    for (const [name, level] of Object.entries(AttentionLevel)) {
      expect(levelName(level)).toBe(name);
      expect(parseLevelName(name)).toBe(level);
    }
    expect(parseLevelName('toString')).toBeUndefined();
    expect(parseLevelName('pain')).toBeUndefined();
    expect(() => levelName(10 as AttentionLevel)).toThrow(RangeError);
  });

  it('counts guiPain and above as pain', () => {
    expect(painLevelMin).toBe(AttentionLevel.guiPain);
    expect(isPain(AttentionLevel.needsAttention)).toBe(false);
    expect(isPain(AttentionLevel.guiPain)).toBe(true);
    expect(isPain(AttentionLevel.death)).toBe(true);
  });

  it('recognises levels and thresholds', () => {
    expect(isAttentionLevel(0)).toBe(true);
    expect(isAttentionLevel(9)).toBe(true);
    expect(isAttentionLevel(10)).toBe(false);
    expect(isAttentionLevel(1.5)).toBe(false);
    expect(isAttentionLevel('1')).toBe(false);
    expect(isAttentionThreshold(attentionOff)).toBe(true);
    expect(isAttentionThreshold(-1)).toBe(false);
  });
});
