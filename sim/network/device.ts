/**
 * Device profiles: when a host is not there.
 *
 * - `nightly`: the phone's OS stops the app every day in a window of virtual UTC time of day (battery
 *   saving); each host's window is shifted by its own draw in [0, spreadMs] so a population does not vanish
 *   in one millisecond.
 * - `sleep`: a laptop alternates awake and asleep periods, exponentially distributed.
 * - `addressChange`: the public address changes at exponentially distributed intervals (mobile handover,
 *   DHCP) and/or on each wake from sleep (a new network).
 *
 * Offline means the app is gone: the network closes every transport of the host and drops datagrams
 * addressed to it, and the driver hears of it through the host's listeners (onOffline/onOnline/
 * onAddressChange) so it can rebind and re-register. A host is online when no reason holds it offline; the
 * reasons (nightly, sleep, manual) are independent, so a laptop asleep during its nightly window wakes only
 * when both have ended. The scheduling lives in `SimNetwork`; this module holds the data and its checks.
 */
import { checkNonNegativeInt, checkPositiveInt } from './params.js';

export const dayMs = 86_400_000;

export interface DeviceProfile {
  readonly nightly?: {
    /** Start of the window, ms after 00:00 UTC. */
    readonly startMsOfDay: number;
    readonly durationMs: number;
    /** Each host's window starts a uniform [0, spreadMs] later (default 0). */
    readonly spreadMs?: number;
  };
  readonly sleep?: { readonly meanAwakeMs: number; readonly meanAsleepMs: number };
  readonly addressChange?: { readonly meanIntervalMs?: number; readonly onWake?: boolean };
}

export type OfflineReason = 'nightly' | 'sleep' | 'manual';

export function checkDeviceProfile(d: DeviceProfile | undefined, name = 'device'): DeviceProfile | undefined {
  if (d === undefined) return undefined;
  if (typeof d !== 'object' || d === null) throw new TypeError(`${name} must be a DeviceProfile object`);
  if (d.nightly !== undefined) {
    const start = checkNonNegativeInt(`${name}.nightly.startMsOfDay`, d.nightly.startMsOfDay);
    if (start >= dayMs) throw new RangeError(`${name}.nightly.startMsOfDay must be < ${dayMs}, got ${start}`);
    const duration = checkPositiveInt(`${name}.nightly.durationMs`, d.nightly.durationMs);
    const spread = checkNonNegativeInt(`${name}.nightly.spreadMs`, d.nightly.spreadMs ?? 0);
    if (duration + spread >= dayMs) {
      throw new RangeError(
        `${name}.nightly.durationMs + spreadMs must be < ${dayMs}, got ${duration + spread}`,
      );
    }
  }
  if (d.sleep !== undefined) {
    checkPositiveInt(`${name}.sleep.meanAwakeMs`, d.sleep.meanAwakeMs);
    checkPositiveInt(`${name}.sleep.meanAsleepMs`, d.sleep.meanAsleepMs);
  }
  if (d.addressChange?.meanIntervalMs !== undefined) {
    checkPositiveInt(`${name}.addressChange.meanIntervalMs`, d.addressChange.meanIntervalMs);
  }
  return d;
}

/** An exponential duration with the given mean, at least 1 ms (integer virtual time). */
export function exponentialMs(meanMs: number, u: number): number {
  return Math.max(1, Math.round(-Math.log(1 - u) * meanMs));
}
