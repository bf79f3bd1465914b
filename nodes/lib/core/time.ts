// Time as people read it in status text and alerts.

/** hh:mm:ss in the machine's local time, as Node-RED shows its own log times. */
export function hhmmss(ms = Date.now()): string {
  return new Date(ms).toTimeString().slice(0, 8);
}
