/**
 * The clock seam. Time in the protocol core is an integer count of milliseconds on the driver's
 * clock: Unix milliseconds on real UDP, virtual milliseconds (starting at a configured epoch, so
 * timestamps look like real ones) in the simulator. The core reads time only from `now` arguments
 * or a `Clock` it was handed.
 */
export interface Clock {
  /** Current time, integer milliseconds. Never decreases. */
  now(): number;
}
