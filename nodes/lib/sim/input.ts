// Reading request input the way Alpaca's trading API does, and the error bodies it answers with.
import { SimHttpError } from './types';

export const invalid = (message: string): SimHttpError => new SimHttpError(422, 40010001, message);
export const unprocessable = (message: string): SimHttpError => new SimHttpError(422, 42210000, message);
export const forbidden = (message: string, details?: Record<string, string>): SimHttpError => new SimHttpError(403, 40310000, message, details);
export const notFound = (message: string): SimHttpError => new SimHttpError(404, 40410000, message);
export const badRequest = (message: string): SimHttpError => new SimHttpError(400, 40010001, message);

/** Parses an Alpaca decimal (string or number); undefined when absent, 422 when malformed. */
export function parseDecimal(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let n = NaN;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) n = Number(value);
  if (!Number.isFinite(n)) throw invalid(`invalid ${field}`);
  return n;
}

export function positive(value: unknown, field: string): number | undefined {
  const n = parseDecimal(value, field);
  if (n !== undefined && !(n > 0)) throw invalid(`${field} must be > 0`);
  return n;
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (text: string): boolean => UUID.test(text);

/** RFC-3339 or YYYY-MM-DD as epoch ms; 400 when malformed. */
export function timestampParam(text: string, field: string): number {
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i.test(text);
  const t = ok ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : NaN;
  if (Number.isNaN(t)) throw badRequest(`invalid ${field}: ${text}`);
  return t;
}
