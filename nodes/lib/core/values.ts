// Reading values from msgs and dialogs, which may be hostile: only own properties, no prototype
// keys, numbers that are really numbers, and echoes of bad values cut short.
import { InputError } from './errors';

/** Keys that would reach Object.prototype instead of the data. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Longest echo of a bad value in an error message. */
const MAX_ECHO = 200;

export function blank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as an error message shows it: JSON where possible, never longer than MAX_ECHO. */
export function show(v: unknown): string {
  let text: string;
  if (typeof v === 'number' || typeof v === 'bigint') text = String(v);
  else if (typeof v === 'string') text = JSON.stringify(v.length > MAX_ECHO ? v.slice(0, MAX_ECHO) : v);
  else {
    try {
      text = JSON.stringify(v) ?? String(v);
    } catch {
      text = Object.prototype.toString.call(v);
    }
  }
  return text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO - 1)}…` : text;
}

/** An own property of `obj` (never an inherited one); undefined when absent. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/**
 * Refuses `__proto__`, `constructor` and `prototype` keys anywhere in `value`, and objects that
 * inherit from anything but Object (a cloned `__proto__` key becomes a real prototype).
 */
export function refuseForbiddenKeys(value: unknown, where: string, depth = 0): void {
  if (depth > 20) throw new InputError(where, `${where} is nested more than 20 levels deep`);
  if (Array.isArray(value)) {
    // Order msgs hold short lists; a long one is walked only as far as it must be.
    for (let i = 0; i < Math.min(value.length, 1000); i++) refuseForbiddenKeys(value[i], `${where}[${i}]`, depth + 1);
    return;
  }
  if (!isPlainObject(value)) return;
  refuseForbiddenShape(value, where);
  for (const key of Object.keys(value)) refuseForbiddenKeys(value[key], `${where}.${key}`, depth + 1);
}

/**
 * The same for a msg, walking in depth only the fields a node reads: the rest of a msg (an http
 * request's req and res, say) is not the node's business.
 */
export function refuseForbiddenFields(msg: object, fields: readonly string[]): void {
  refuseForbiddenShape(msg, 'msg');
  for (const field of fields) refuseForbiddenKeys(own(msg as Record<string, unknown>, field), `msg.${field}`);
}

/** One object: plain, and none of its own keys forbidden. */
function refuseForbiddenShape(value: object, where: string): void {
  // A plain object's prototype is an Object.prototype (of this realm or a function node's sandbox), itself without one.
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== null && Object.getPrototypeOf(proto) !== null) throw new InputError(where, `${where} must be a plain object (it inherits properties)`);
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) throw new InputError(`${where}.${key}`, `${where}.${key}: the key "${key}" is not allowed`);
  }
}

/** A positive finite number from a number or a numeric string; undefined when blank. */
export function positiveAmount(field: string, v: unknown): number | undefined {
  if (blank(v)) return undefined;
  let n = NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) n = Number(v);
  if (!Number.isFinite(n)) throw new InputError(field, `${field} must be a number (got ${show(v)})`);
  if (!(n > 0)) throw new InputError(field, `${field} must be greater than 0 (got ${show(v)})`);
  return n;
}
