'use strict';
// Waiting in tests: poll until something holds, or pause. The one copy every test and support file uses.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A value as a timeout message shows it: short, and undefined or a function named as such. */
function shown(value) {
  if (value === undefined || typeof value === 'function') return String(value);
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/**
 * Resolves with the first truthy value of `predicate()` (sync or async), asked every `every` ms;
 * rejects after `ms` naming `what` and the last value seen. An error thrown by the predicate
 * rejects at once: a predicate can fail fast on something that will never come right.
 */
async function waitFor(predicate, ms = 5000, what = 'condition', every = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last value: ${shown(value)})`);
    await sleep(every);
  }
}

module.exports = { waitFor, sleep };
