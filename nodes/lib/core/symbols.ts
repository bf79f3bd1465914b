// One symbol grammar for every node: stock tickers (AAPL, BRK.B), crypto pairs (BTC/USD,
// 1INCH/USD) and OCC option symbols (AAPL250117C00150000).
import { InputError } from './errors';
import { blank, show } from './values';

export type AssetKind = 'stock' | 'crypto' | 'option';

const GRAMMAR: Record<AssetKind, RegExp> = {
  stock: /^[A-Z][A-Z0-9.]{0,9}$/,
  crypto: /^[A-Z0-9]{2,10}\/[A-Z0-9]{2,10}$/,
  /** Root, expiry YYMMDD, C or P, strike x 1000 in 8 digits. */
  option: /^[A-Z]{1,6}\d{6}[CP]\d{8}$/,
};

export const SYMBOL_EXAMPLES: Record<AssetKind, string> = { stock: 'AAPL', crypto: 'BTC/USD', option: 'AAPL250117C00150000' };

/** Most symbols one msg or setting may name (a whole market is "*"). */
export const MAX_SYMBOLS_PER_MSG = 2000;

/** The kind of an upper-case symbol, or undefined when it is none of them. */
export function classifySymbol(symbol: string): AssetKind | undefined {
  if (GRAMMAR.option.test(symbol)) return 'option';
  if (GRAMMAR.crypto.test(symbol)) return 'crypto';
  if (GRAMMAR.stock.test(symbol)) return 'stock';
  return undefined;
}

/** Upper-cases and classifies a symbol; `kinds` limits what is accepted. Throws InputError naming `field`. */
export function parseSymbol(field: string, v: unknown, kinds: readonly AssetKind[] = ['stock', 'crypto', 'option']): { symbol: string; assetKind: AssetKind } {
  const wanted = kinds.map((k) => `${k === 'stock' ? 'a ticker' : k === 'crypto' ? 'a crypto pair' : 'an OCC option symbol'} (${SYMBOL_EXAMPLES[k]})`).join(' or ');
  if (blank(v)) throw new InputError(field, `${field} is required: ${wanted}`);
  if (typeof v !== 'string') throw new InputError(field, `${field} must be text: ${wanted} (got ${show(v)})`);
  const symbol = v.trim().toUpperCase();
  const assetKind = classifySymbol(symbol);
  if (!assetKind || !kinds.includes(assetKind)) throw new InputError(field, `${field} ${show(v)} is not ${wanted}`);
  return { symbol, assetKind };
}

/**
 * "AAPL, msft" or ["AAPL"] -> ["AAPL", "MSFT"], in linear time, at most MAX_SYMBOLS_PER_MSG, no
 * duplicates. "*" (every symbol) passes when `allowAll`. Throws InputError naming `field`.
 */
export function parseSymbolList(field: string, input: unknown, kinds: readonly AssetKind[], allowAll = false): string[] {
  let list: unknown[];
  if (typeof input === 'string') {
    // A cap on the text first, so a megabyte of commas costs nothing.
    if (input.length > MAX_SYMBOLS_PER_MSG * 24) throw new InputError(field, `${field}: more than ${MAX_SYMBOLS_PER_MSG} symbols`);
    list = input.split(/[\s,;]+/).filter(Boolean);
  } else if (Array.isArray(input)) list = input;
  else throw new InputError(field, `${field} must be a string like "${SYMBOL_EXAMPLES[kinds[0]]}" or an array of symbols (got ${show(input)})`);
  if (list.length > MAX_SYMBOLS_PER_MSG) throw new InputError(field, `${field}: ${list.length} symbols, more than the ${MAX_SYMBOLS_PER_MSG} allowed in one msg`);
  const out = new Set<string>();
  for (const raw of list) {
    if (typeof raw !== 'string' || !raw.trim()) throw new InputError(field, `${field}: every symbol must be a non-empty string (got ${show(raw)})`);
    const symbol = raw.trim().toUpperCase();
    if (symbol === '*' && allowAll) out.add(symbol);
    else out.add(parseSymbol(field, symbol, kinds).symbol);
  }
  return [...out];
}

/** Alpaca names crypto positions without the slash (BTCUSD) although orders say BTC/USD. */
export function positionKey(symbol: string): string {
  return symbol.replace('/', '').toUpperCase();
}
