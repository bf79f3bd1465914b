// The account's watchlists: named, ordered lists of assets, addressed by id or by name.
import { randomUUID } from 'node:crypto';
import { assetJson, resolveAsset } from './assets';
import { invalid, notFound, record } from './input';
import type { MarketView, SimAsset, SimClock } from './types';

interface Watchlist {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  assets: SimAsset[];
}

/** Bounds that keep a hostile client from growing the simulator's memory. */
const MAX_WATCHLISTS = 200;
const MAX_ASSETS = 1000;

export class Watchlists {
  private readonly lists = new Map<string, Watchlist>();

  constructor(
    private readonly market: MarketView,
    private readonly clock: SimClock,
    private readonly accountId: string,
  ) {}

  clear(): void {
    this.lists.clear();
  }

  /** GET /v2/watchlists: every list without its assets. */
  all(): Record<string, unknown>[] {
    return [...this.lists.values()].map((w) => this.json(w, false));
  }

  /** POST /v2/watchlists {name, symbols}. */
  create(body: unknown): Record<string, unknown> {
    if (this.lists.size >= MAX_WATCHLISTS) throw invalid(`no more than ${MAX_WATCHLISTS} watchlists`);
    const { name, assets } = this.parse(body);
    const now = this.clock.now();
    const w: Watchlist = { id: randomUUID(), name, createdAt: now, updatedAt: now, assets: assets ?? [] };
    this.lists.set(w.id, w);
    return this.json(w);
  }

  get(key: WatchlistKey): Record<string, unknown> {
    return this.json(this.find(key));
  }

  /** PUT: a new name and/or the whole asset list. */
  update(key: WatchlistKey, body: unknown): Record<string, unknown> {
    const w = this.find(key);
    const { name, assets } = this.parse(body, w);
    w.name = name;
    if (assets) w.assets = assets;
    w.updatedAt = this.clock.now();
    return this.json(w);
  }

  /** POST /v2/watchlists/{id} {symbol}: appends one asset. */
  add(key: WatchlistKey, body: unknown): Record<string, unknown> {
    const w = this.find(key);
    const symbol = record(body)?.symbol;
    if (typeof symbol !== 'string' || !symbol.trim()) throw invalid('symbol is required');
    const asset = this.asset(symbol);
    if (w.assets.includes(asset)) throw invalid(`${asset.symbol} is already in watchlist ${w.name}`);
    if (w.assets.length >= MAX_ASSETS) throw invalid(`no more than ${MAX_ASSETS} assets in a watchlist`);
    w.assets.push(asset);
    w.updatedAt = this.clock.now();
    return this.json(w);
  }

  /** DELETE /v2/watchlists/{id}/{symbol}: the list without that asset. */
  remove(key: WatchlistKey, symbol: string): Record<string, unknown> {
    const w = this.find(key);
    const asset = resolveAsset(this.market, symbol);
    const at = asset ? w.assets.indexOf(asset) : -1;
    if (at < 0) throw notFound(`symbol ${symbol} not found in watchlist`);
    w.assets.splice(at, 1);
    w.updatedAt = this.clock.now();
    return this.json(w);
  }

  delete(key: WatchlistKey): void {
    this.lists.delete(this.find(key).id);
  }

  private find(key: WatchlistKey): Watchlist {
    const w = 'id' in key ? this.lists.get(key.id) : [...this.lists.values()].find((l) => l.name === key.name);
    if (!w) throw notFound('watchlist not found');
    return w;
  }

  private asset(symbol: string): SimAsset {
    const asset = resolveAsset(this.market, symbol);
    if (!asset) throw invalid(`asset not found for symbol ${symbol}`);
    return asset;
  }

  /** {name, symbols}: a name of 1 to 64 characters, unique; known, distinct symbols. */
  private parse(body: unknown, self?: Watchlist): { name: string; assets?: SimAsset[] } {
    const input = record(body);
    if (!input) throw invalid('request body must be a watchlist object');
    const name = input.name;
    if (name === undefined || name === null) throw invalid('name is required');
    if (typeof name !== 'string' || !name.trim() || name.length > 64) throw invalid('name must be 1 to 64 characters');
    if ([...this.lists.values()].some((l) => l !== self && l.name === name)) throw invalid('watchlist name must be unique');
    let assets: SimAsset[] | undefined;
    if (input.symbols !== undefined && input.symbols !== null) {
      if (!Array.isArray(input.symbols) || input.symbols.some((s) => typeof s !== 'string')) throw invalid('symbols must be a list of symbols');
      if (input.symbols.length > MAX_ASSETS) throw invalid(`no more than ${MAX_ASSETS} assets in a watchlist`);
      assets = [];
      for (const s of input.symbols as string[]) {
        const asset = this.asset(s);
        if (assets.includes(asset)) throw invalid(`duplicate symbol ${asset.symbol}`);
        assets.push(asset);
      }
    }
    return { name, assets };
  }

  private json(w: Watchlist, withAssets = true): Record<string, unknown> {
    return {
      id: w.id,
      account_id: this.accountId,
      name: w.name,
      created_at: new Date(w.createdAt).toISOString(),
      updated_at: new Date(w.updatedAt).toISOString(),
      ...(withAssets ? { assets: w.assets.map(assetJson) } : {}),
    };
  }
}

export type WatchlistKey = { id: string } | { name: string };
