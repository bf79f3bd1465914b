'use strict';
// Preloaded into a process (NODE_OPTIONS=--require …) whose wall clock is to be off by
// SKEWED_CLOCK_MS: Date.now() and new Date() move, the monotonic clock (performance.now) does not.
// What a machine without a clock battery has after a power failure until NTP sets its clock (a
// Raspberry Pi starts from the time it saved last).
const skew = Number(process.env.SKEWED_CLOCK_MS);
if (!Number.isFinite(skew)) throw new Error('SKEWED_CLOCK_MS must be a number of ms');
const SystemDate = Date;
const now = () => SystemDate.now() + skew;
/** Date with the skewed clock: new Date() and Date.now() (and Date() as a function); the rest is Date's own. */
function SkewedDate(...args) {
  if (!new.target) return new SystemDate(now()).toString();
  return args.length === 0 ? new SystemDate(now()) : new SystemDate(...args);
}
SkewedDate.prototype = SystemDate.prototype;
Object.assign(SkewedDate, { now, parse: SystemDate.parse, UTC: SystemDate.UTC });
globalThis.Date = SkewedDate;
