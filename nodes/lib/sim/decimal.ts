// Numbers as Alpaca's trading API writes them: money to cents, quantities to 9 decimals, and
// decimal strings without exponent or trailing zeros.

/** Quantities closer than this are equal (a billionth of a unit, the finest crypto increment). */
export const QTY_EPSILON = 1e-9;

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round((value + Math.sign(value) * Number.EPSILON * Math.abs(value)) * f) / f;
}

export const money = (v: number): number => round(v, 2);
export const units = (v: number): number => round(v, 9);
export const isWhole = (n: number): boolean => Math.abs(n - Math.round(n)) < QTY_EPSILON;

/** A decimal string without exponent or trailing zeros, as Alpaca sends numbers. */
export function decimalString(value: number, decimals = 9): string {
  const text = round(value, decimals).toFixed(decimals).replace(/\.?0+$/, '');
  return text === '-0' || text === '' ? '0' : text;
}

export const moneyString = (v: number): string => decimalString(v, 2);

/** Whether a price has no more decimals than `decimals` (tolerating binary noise). */
export function hasAtMostDecimals(value: number, decimals: number): boolean {
  const scaled = value * 10 ** decimals;
  return Math.abs(scaled - Math.round(scaled)) < 1e-6;
}
