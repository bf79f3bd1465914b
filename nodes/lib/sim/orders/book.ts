// The order book of the paper account: every order by id and client order id, the open ones by
// symbol, and a bounded queue of closed order groups (older closed orders are forgotten).
import type { MarketView } from '../types';
import { resolveAsset } from '../assets';
import { badRequest, invalid } from '../input';
import { TERMINAL, rootOf, type SimOrder } from './order';

export const DEFAULT_MAX_CLOSED_ORDERS = 10_000;

export interface ListOrdersQuery {
  status?: string;
  limit?: number;
  after?: string;
  until?: string;
  direction?: string;
  nested?: boolean;
  symbols?: string[];
  side?: string;
  assetClasses?: string[];
  beforeOrderId?: string;
  afterOrderId?: string;
}

const ASSET_CLASSES = new Set(['us_equity', 'us_option', 'crypto', 'crypto_perp', 'treasury', 'corporate', 'global_equity', 'us_index', 'us_equity_chain', 'ipo', 'all']);

export class OrderBook {
  private readonly orders = new Map<string, SimOrder>();
  private readonly byClientOrderId = new Map<string, SimOrder>();
  private readonly open = new Set<SimOrder>();
  private readonly openBySymbol = new Map<string, Set<SimOrder>>();
  private closed: SimOrder[] = [];
  private closedHead = 0;

  constructor(private readonly maxClosedOrders = DEFAULT_MAX_CLOSED_ORDERS) {}

  clear(): void {
    this.orders.clear();
    this.byClientOrderId.clear();
    this.open.clear();
    this.openBySymbol.clear();
    this.closed = [];
    this.closedHead = 0;
  }

  get size(): number {
    return this.orders.size;
  }

  get openCount(): number {
    return this.open.size;
  }

  get(id: string): SimOrder | undefined {
    return this.orders.get(id);
  }

  byClientId(clientOrderId: string): SimOrder | undefined {
    return this.byClientOrderId.get(clientOrderId);
  }

  isOpen(o: SimOrder): boolean {
    return this.open.has(o);
  }

  /** A snapshot of the open orders (safe to change the book while iterating). */
  openOrders(): SimOrder[] {
    return [...this.open];
  }

  openInSymbol(symbol: string): SimOrder[] {
    const set = this.openBySymbol.get(symbol);
    return set ? [...set] : [];
  }

  checkClientOrderId(clientOrderId: string): void {
    if (clientOrderId.length > 128) throw invalid('client_order_id must be no more than 128 characters');
    if (this.byClientOrderId.has(clientOrderId)) throw invalid('client_order_id must be unique');
  }

  /** Adds an order to the book as open. */
  register(o: SimOrder): void {
    this.orders.set(o.id, o);
    this.byClientOrderId.set(o.clientOrderId, o);
    this.open.add(o);
    let bySymbol = this.openBySymbol.get(o.asset.symbol);
    if (!bySymbol) this.openBySymbol.set(o.asset.symbol, (bySymbol = new Set()));
    bySymbol.add(o);
  }

  /** Removes an order from the open book (it has reached a terminal status). */
  closeOut(o: SimOrder): void {
    this.open.delete(o);
    const bySymbol = this.openBySymbol.get(o.asset.symbol);
    bySymbol?.delete(o);
    if (bySymbol && bySymbol.size === 0) this.openBySymbol.delete(o.asset.symbol);
  }

  /** Keeps memory bounded: once a whole order group is closed it joins the closed-order queue. */
  retire(o: SimOrder): void {
    const root = rootOf(o);
    if (root.retired || this.open.has(root) || (root.legs ?? []).some((l) => this.open.has(l))) return;
    root.retired = true;
    this.closed.push(root);
    while (this.closed.length - this.closedHead > this.maxClosedOrders) {
      const evicted = this.closed[this.closedHead++];
      for (const x of [evicted, ...(evicted.legs ?? [])]) {
        this.orders.delete(x.id);
        if (this.byClientOrderId.get(x.clientOrderId) === x) this.byClientOrderId.delete(x.clientOrderId);
      }
    }
    if (this.closedHead > 1024 && this.closedHead * 2 > this.closed.length) {
      this.closed = this.closed.slice(this.closedHead);
      this.closedHead = 0;
    }
  }

  /** GET /v2/orders: the orders a query selects, in its order and page size. */
  list(query: ListOrdersQuery, market: MarketView): SimOrder[] {
    const status = query.status ?? 'open';
    if (!['open', 'closed', 'all'].includes(status)) throw invalid('invalid status (expected open, closed or all)');
    // Alpaca caps the page at 500 rather than refusing a larger limit.
    const limit = Math.min(500, query.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
    const direction = query.direction ?? 'desc';
    if (direction !== 'asc' && direction !== 'desc') throw invalid('direction must be asc or desc');
    let after = query.after ? Date.parse(query.after) : undefined;
    let until = query.until ? Date.parse(query.until) : undefined;
    if (Number.isNaN(after) || Number.isNaN(until)) throw invalid('after and until must be RFC-3339 timestamps');
    if (query.beforeOrderId !== undefined || query.afterOrderId !== undefined) {
      if (query.beforeOrderId !== undefined && query.afterOrderId !== undefined) throw badRequest('before_order_id and after_order_id are mutually exclusive');
      if (after !== undefined || until !== undefined) throw badRequest('before_order_id and after_order_id do not combine with after or until');
      const anchorId = (query.beforeOrderId ?? query.afterOrderId) as string;
      const anchor = this.orders.get(anchorId);
      if (!anchor) throw invalid(`order ${anchorId} not found`);
      if (query.beforeOrderId !== undefined) until = anchor.submittedAt;
      else after = anchor.submittedAt;
    }
    const classes = query.assetClasses?.length ? new Set(query.assetClasses) : undefined;
    for (const c of classes ?? []) if (!ASSET_CLASSES.has(c)) throw badRequest(`invalid asset_class: ${c}`);
    const symbols = query.symbols?.length
      ? new Set(query.symbols.map((s) => resolveAsset(market, s)?.symbol ?? s.toUpperCase()))
      : undefined;
    const nested = query.nested === true;

    const picked: SimOrder[] = [];
    for (const o of this.orders.values()) {
      if (nested && o.parent) continue;
      const isOpen = !TERMINAL.has(o.status);
      if (status === 'open' && !isOpen) continue;
      if (status === 'closed' && isOpen) continue;
      if (symbols && !symbols.has(o.asset.symbol)) continue;
      if (classes && !classes.has('all') && !classes.has(o.asset.assetClass)) continue;
      if (query.side && o.side !== query.side) continue;
      if (after !== undefined && !(o.submittedAt > after)) continue;
      if (until !== undefined && !(o.submittedAt < until)) continue;
      picked.push(o);
    }
    picked.sort((a, b) => (direction === 'asc' ? a.submittedAt - b.submittedAt : b.submittedAt - a.submittedAt));
    return picked.slice(0, limit);
  }
}
