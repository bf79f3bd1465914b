// An order in a few words, for status dots, errors and the audit trail.

/** A few words saying what an order is: "buy 10 AAPL limit 150". */
export function describeOrder(o: { side: string; qty?: number | null; notional?: number | null; symbol: string; type: string; limitPrice?: number | null; stopPrice?: number | null }): string {
  const amount = o.qty !== undefined && o.qty !== null ? String(o.qty) : o.notional !== undefined && o.notional !== null ? `$${o.notional}` : '';
  const price = o.type === 'limit' && o.limitPrice ? ` @ ${o.limitPrice}` : o.type === 'stop' && o.stopPrice ? ` stop ${o.stopPrice}` : o.type === 'market' ? ' @ market' : ` ${o.type.replace('_', ' ')}`;
  return `${o.side} ${amount} ${o.symbol}${price}`.replace(/\s+/g, ' ').trim();
}
