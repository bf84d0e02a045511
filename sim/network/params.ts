/**
 * Parameter checks for the network model's configuration. Configuration is written by people (scenario
 * files, CLI flags), so a bad value must fail at construction with a message that names the parameter,
 * never later as a NaN latency or a silently ignored loss rate. Each check throws a `RangeError` (value of
 * the right type but out of range) or a `TypeError` (wrong type), with the parameter's dotted path first.
 */

export function checkRate(name: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a number in [0, 1], got ${String(value)}`);
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  return value;
}

export function checkNonNegativeInt(name: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

export function checkPositiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export function checkNonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a non-negative number, got ${String(value)}`);
  if (!(value >= 0 && Number.isFinite(value))) {
    throw new RangeError(`${name} must be a finite non-negative number, got ${value}`);
  }
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`${name} must be one of ${allowed.join(', ')}; got ${String(value)}`);
  }
  return value as T;
}
