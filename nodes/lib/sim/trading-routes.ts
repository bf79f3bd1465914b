// Alpaca's trading REST API over the paper broker: account, assets, clock, calendar, orders and
// positions, with Alpaca's paths, query parameters, status codes and snake_case string bodies.
import { resolveAsset, type Broker } from './broker';
import { SimHttpError, type MarketView, type Route, type SimAsset, type SimClock, type SimRequest, type SimStats } from './types';

const nyClock = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  weekday: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

/** The session phase Alpaca's v3 clock reports (pre 4:00-9:30, core, post 16:00-20:00 New York). */
function phaseAt(clock: SimClock, at: number): 'pre' | 'core' | 'post' | 'closed' {
  if (clock.isMarketOpen(at)) return 'core';
  const parts = nyClock.formatToParts(new Date(at));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '0';
  if (get('weekday') === 'Sat' || get('weekday') === 'Sun') return 'closed';
  const minute = Number(get('hour')) * 60 + Number(get('minute'));
  if (minute >= 4 * 60 && minute < 9 * 60 + 30) return 'pre';
  if (minute >= 16 * 60 && minute < 20 * 60) return 'post';
  return 'closed';
}

function assetJson(a: SimAsset): Record<string, unknown> {
  const crypto = a.assetClass === 'crypto';
  const out: Record<string, unknown> = {
    id: a.id,
    class: a.assetClass,
    exchange: a.exchange,
    symbol: a.symbol,
    name: a.name,
    status: 'active',
    tradable: true,
    marginable: !crypto,
    maintenance_margin_requirement: crypto ? 100 : 30,
    margin_requirement_long: crypto ? '100' : '50',
    margin_requirement_short: crypto ? '100' : '50',
    shortable: !crypto,
    easy_to_borrow: !crypto,
    fractionable: a.fractionable,
    attributes: [],
  };
  if (!crypto) out.borrow_status = 'easy_to_borrow';
  if (a.minOrderSize !== undefined) out.min_order_size = String(a.minOrderSize);
  if (a.minTradeIncrement !== undefined) out.min_trade_increment = String(a.minTradeIncrement);
  if (a.priceIncrement !== undefined) out.price_increment = String(a.priceIncrement);
  return out;
}

function bool(value: string | null): boolean | undefined {
  if (value === null || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new SimHttpError(422, 40010001, `invalid boolean "${value}"`);
}

/** Path symbols: `BTC%2FUSD` arrives decoded as `BTC/USD`, `BTCUSD` stays as is; both resolve. */
function symbolParam(req: SimRequest): string {
  const { symbol_or_asset_id: one, base, quote } = req.params;
  return base !== undefined ? `${base}/${quote}` : one;
}

const DAY = 86_400_000;
const ymd = (t: number) => new Date(t).toISOString().slice(0, 10);

export function tradingRoutes(broker: Broker, market: MarketView, clock: SimClock, stats: SimStats): Route[] {
  const ok = (body: unknown, status = 200) => ({ status, body });

  const legacyClock = () => {
    const now = clock.now();
    const { nextOpen, nextClose } = clock.nextOpenClose(now);
    return {
      timestamp: new Date(now).toISOString(),
      is_open: clock.isMarketOpen(now),
      next_open: new Date(nextOpen).toISOString(),
      next_close: new Date(nextClose).toISOString(),
    };
  };

  const getPosition = (req: SimRequest) => ok(broker.getPosition(symbolParam(req)));
  const closePosition = (req: SimRequest) =>
    ok(broker.closePosition(symbolParam(req), { qty: req.query.get('qty'), percentage: req.query.get('percentage') }));
  const getAsset = (req: SimRequest) => {
    const asset = resolveAsset(market, symbolParam(req));
    if (!asset) throw new SimHttpError(404, 40410000, 'asset not found');
    return ok(assetJson(asset));
  };

  return [
    { method: 'GET', pattern: '/v2/account', handler: () => ok(broker.getAccount()) },
    { method: 'GET', pattern: '/v2/account/configurations', handler: () => ok(broker.getConfigurations()) },
    { method: 'PATCH', pattern: '/v2/account/configurations', handler: (req) => ok(broker.configure(req.body)) },

    {
      method: 'GET',
      pattern: '/v2/assets',
      handler: (req) => {
        const status = req.query.get('status');
        const assetClass = req.query.get('asset_class');
        const exchange = req.query.get('exchange');
        const list = market
          .assets()
          .filter(() => !status || status === 'active')
          .filter((a) => !assetClass || a.assetClass === assetClass)
          .filter((a) => !exchange || a.exchange === exchange)
          .map(assetJson);
        return ok(list);
      },
    },
    { method: 'GET', pattern: '/v2/assets/{symbol_or_asset_id}', handler: getAsset },
    { method: 'GET', pattern: '/v2/assets/{base}/{quote}', handler: getAsset },

    { method: 'GET', pattern: '/v2/clock', handler: () => ok(legacyClock()) },
    {
      method: 'GET',
      pattern: '/v3/clock',
      handler: () => {
        const now = clock.now();
        const { nextOpen, nextClose } = clock.nextOpenClose(now);
        const phase = phaseAt(clock, now);
        const weekday = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', weekday: 'short' }).format(new Date(now));
        return ok({
          clocks: [
            {
              market: { acronym: 'NYSE', name: 'New York Stock Exchange', mic: 'XNYS', timezone: 'America/New_York' },
              timestamp: new Date(now).toISOString(),
              is_market_day: clock.isMarketOpen(now) || (weekday !== 'Sat' && weekday !== 'Sun'),
              next_market_open: new Date(nextOpen).toISOString(),
              next_market_close: new Date(nextClose).toISOString(),
              phase,
              phase_until: new Date(phase === 'core' ? nextClose : nextOpen).toISOString(),
            },
          ],
        });
      },
    },
    {
      method: 'GET',
      pattern: '/v2/calendar',
      handler: (req) => {
        // Weekdays only: the simulator knows no exchange holidays.
        const today = Date.parse(ymd(clock.now()));
        const start = Date.parse(req.query.get('start') ?? ymd(today));
        const end = Date.parse(req.query.get('end') ?? ymd(today + 30 * DAY));
        if (Number.isNaN(start) || Number.isNaN(end)) throw new SimHttpError(422, 40010001, 'start and end must be dates (YYYY-MM-DD)');
        const days: Array<Record<string, string>> = [];
        const isWeekday = (t: number) => new Date(t).getUTCDay() % 6 !== 0;
        for (let t = Date.parse(ymd(start)); t <= end && days.length < 1000; t += DAY) {
          if (!isWeekday(t)) continue;
          let settle = t + DAY;
          while (!isWeekday(settle)) settle += DAY;
          days.push({ date: ymd(t), open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: ymd(settle) });
        }
        return ok(days);
      },
    },

    {
      method: 'POST',
      pattern: '/v2/orders',
      handler: (req) => {
        const order = broker.submitOrder(req.body);
        stats.orders++;
        return ok(order);
      },
    },
    {
      method: 'GET',
      pattern: '/v2/orders',
      handler: (req) => {
        const q = req.query;
        const limit = q.get('limit');
        const symbols = q.get('symbols');
        return ok(
          broker.listOrders({
            status: q.get('status') ?? undefined,
            limit: limit === null ? undefined : Number(limit),
            after: q.get('after') ?? undefined,
            until: q.get('until') ?? undefined,
            direction: q.get('direction') ?? undefined,
            nested: bool(q.get('nested')),
            symbols: symbols ? symbols.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
            side: q.get('side') ?? undefined,
          }),
        );
      },
    },
    { method: 'DELETE', pattern: '/v2/orders', handler: () => ok(broker.cancelAllOrders(), 207) },
    {
      method: 'GET',
      pattern: '/v2/orders:by_client_order_id',
      handler: (req) => {
        const clientOrderId = req.query.get('client_order_id');
        if (!clientOrderId) throw new SimHttpError(422, 40010001, 'client_order_id is required');
        return ok(broker.getOrderByClientOrderId(clientOrderId));
      },
    },
    {
      method: 'GET',
      pattern: '/v2/orders/{order_id}',
      handler: (req) => ok(broker.getOrder(req.params.order_id, bool(req.query.get('nested')) ?? true)),
    },
    { method: 'PATCH', pattern: '/v2/orders/{order_id}', handler: (req) => ok(broker.replaceOrder(req.params.order_id, req.body)) },
    {
      method: 'DELETE',
      pattern: '/v2/orders/{order_id}',
      handler: (req) => {
        broker.cancelOrder(req.params.order_id);
        return { status: 204 };
      },
    },

    { method: 'GET', pattern: '/v2/positions', handler: () => ok(broker.getPositions()) },
    {
      method: 'DELETE',
      pattern: '/v2/positions',
      handler: (req) => ok(broker.closeAllPositions(bool(req.query.get('cancel_orders')) === true), 207),
    },
    { method: 'GET', pattern: '/v2/positions/{symbol_or_asset_id}', handler: getPosition },
    { method: 'GET', pattern: '/v2/positions/{base}/{quote}', handler: getPosition },
    { method: 'DELETE', pattern: '/v2/positions/{symbol_or_asset_id}', handler: closePosition },
    { method: 'DELETE', pattern: '/v2/positions/{base}/{quote}', handler: closePosition },
  ];
}
