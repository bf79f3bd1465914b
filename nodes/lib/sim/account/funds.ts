// What the account can afford: the notional each open order reserves, buying power net of those
// reservations, the quantity of a position not yet promised to closing orders, and the 403s
// Alpaca answers when an order asks for more.
import { decimalString, isWhole, moneyString, QTY_EPSILON, units } from '../decimal';
import { forbidden, unprocessable } from '../input';
import type { OrderBook } from '../orders/book';
import { WORKING, rootOf, type OrderSide, type SimOrder } from '../orders/order';
import type { MarketView } from '../types';
import type { BuyingPower, PaperAccount, SimPosition } from './paper-account';

export class Funds {
  constructor(
    private readonly account: PaperAccount,
    private readonly book: OrderBook,
    private readonly market: MarketView,
    /** Slippage of market and triggered stop orders beyond the touch (fraction). */
    private readonly slippage: number,
  ) {}

  /** Buying power (stocks) and non-marginable buying power (crypto), less what open orders reserve. */
  buyingPower(except?: SimOrder): BuyingPower {
    const reserved = { stock: 0, crypto: 0 };
    for (const o of this.book.openOrders()) {
      if (o === except) continue;
      reserved[o.asset.assetClass === 'crypto' ? 'crypto' : 'stock'] += this.reservation(o);
    }
    return this.account.buyingPower(reserved);
  }

  /** The notional an open order may add to the account's exposure. */
  reservation(o: SimOrder): number {
    if (o.exitOnly || (!WORKING.has(o.status) && o.status !== 'held')) return 0;
    if (o.notional !== null) return o.side === 'sell' ? 0 : Math.max(0, o.notional - o.filledValue);
    const remaining = (o.qty ?? 0) - o.filledQty;
    const opening = this.account.openingQty(o.asset, o.side, remaining);
    if (opening <= 0) return 0;
    return opening * this.referencePrice(o);
  }

  /** The price an order is valued at: its limit, a market order's collar, else the touch plus slippage. */
  referencePrice(o: SimOrder): number {
    if (o.type === 'limit' || o.type === 'stop_limit') return o.limitPrice ?? 0;
    if (o.collar !== null) return o.collar;
    const q = this.market.quote(o.asset.symbol);
    const touch = q ? (o.side === 'buy' ? q.ask : q.bid) : 0;
    const base = o.type === 'stop' && o.stopPrice !== null ? Math.max(o.stopPrice, touch) : touch;
    return base * (o.side === 'buy' ? 1 + this.slippage : 1);
  }

  /** Quantity of a position that open closing orders do not already hold. */
  qtyAvailable(p: SimPosition): number {
    const closingSide: OrderSide = p.qty > 0 ? 'sell' : 'buy';
    const groups = new Map<SimOrder, number>();
    for (const o of this.book.openInSymbol(p.asset.symbol)) {
      if (o.side !== closingSide || o.qty === null || o.status === 'held') continue;
      // Sibling exits (OCO pair, bracket legs) sell the same shares: count the group once.
      const group = rootOf(o);
      groups.set(group, Math.max(groups.get(group) ?? 0, o.qty - o.filledQty));
    }
    let held = 0;
    for (const q of groups.values()) held += q;
    return Math.max(0, units(Math.abs(p.qty) - held));
  }

  /** 403s: held quantity for closing or crypto sells, buying power for opening exposure. */
  check(o: SimOrder, except?: SimOrder): void {
    const held = this.account.positions.get(o.asset.symbol);
    const heldQty = held?.qty ?? 0;
    const crypto = o.asset.assetClass === 'crypto';
    const closingSide: OrderSide = heldQty > 0 ? 'sell' : 'buy';
    const closes = held !== undefined && o.side === closingSide;

    if (o.qty !== null) {
      const requested = o.qty - o.filledQty;
      // Closing orders (and crypto sells, which can never short) are limited to the unheld quantity;
      // Alpaca will not flip a long into a short, or a short into a long, with one order.
      if (closes || o.exitOnly || (crypto && o.side === 'sell')) {
        const available = held && closes ? this.qtyAvailable(held) + (except ? Math.max(0, (except.qty ?? 0) - except.filledQty) : 0) : 0;
        if (requested > available + QTY_EPSILON) {
          throw forbidden(`insufficient qty available for order (requested: ${decimalString(requested)}, available: ${decimalString(available)})`);
        }
      }
      if (o.side === 'sell' && !crypto && !closes) {
        if (!isWhole(requested)) throw unprocessable('fractional orders cannot be sold short');
        if (!this.account.shorting || this.account.multiplier < 2) throw forbidden('account is not allowed to short');
      }
    } else if (o.side === 'sell') {
      // A notional sell trims a long position; it can never open a short.
      if (heldQty <= 0) {
        if (crypto) throw forbidden('insufficient qty available for order');
        throw unprocessable('fractional orders cannot be sold short');
      }
      const value = heldQty * (this.account.currentPrice(o.asset.symbol) ?? 0);
      if ((o.notional ?? 0) > value + 0.005) throw forbidden('insufficient qty available for order');
    }

    const cost = this.reservation(o);
    if (cost <= 0) return;
    const bp = this.buyingPower(except);
    const limit = crypto ? bp.nonMarginable : bp.buyingPower;
    if (cost > limit + 0.005) {
      if (crypto) throw forbidden('insufficient balance for USD', { balance: moneyString(this.account.cash), available: moneyString(limit), symbol: 'USD' });
      throw forbidden('insufficient buying power', { buying_power: moneyString(limit), cost_basis: moneyString(cost) });
    }
  }

  /** Re-checks money at execution: queued or triggered orders can outgrow buying power. */
  atFill(o: SimOrder, qty: number, price: number): boolean {
    const opening = this.account.openingQty(o.asset, o.side, qty);
    if (opening <= QTY_EPSILON || o.exitOnly) return true;
    if (o.asset.assetClass === 'crypto' && o.side === 'sell') return false;
    const bp = this.buyingPower(o);
    const limit = o.asset.assetClass === 'crypto' ? bp.nonMarginable : bp.buyingPower;
    return opening * price <= limit + 0.005;
  }
}
