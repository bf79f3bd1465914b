// Alpaca's trading REST API over the paper broker: account, activities, portfolio history,
// assets, clock, calendar, orders, positions and watchlists, with Alpaca's paths, status codes and
// snake_case string bodies. Each route accepts exactly the query parameters the spec lists (400
// for any other).
import { assetJson, resolveAsset } from './assets';
import type { Broker } from './broker';
import { addDays, newYorkDate, newYorkOffset, nyseSession, sessionAfter, settlementDate, tradingSessions } from './calendar';
import { badRequest, notFound, timestampParam } from './input';
import type { WatchlistKey } from './watchlists';
import { SimHttpError, type MarketView, type Route, type SimClock, type SimRequest, type SimResponse, type SimStats } from './types';

/** Alpaca's /v2/calendar covers these years. */
const CALENDAR_FIRST = '1970-01-01';
const CALENDAR_LAST = '2029-12-31';
/** The markets /v3/clock answers for: the US equity exchanges, which share the NYSE calendar. */
const EQUITY_MARKETS: Record<string, { name: string; mic: string }> = {
  NYSE: { name: 'New York Stock Exchange', mic: 'XNYS' },
  NASDAQ: { name: 'Nasdaq', mic: 'XNAS' },
};

function bool(value: string | null): boolean | undefined {
  if (value === null || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new SimHttpError(422, 40010001, `invalid boolean "${value}"`);
}

/** Path symbols: `BTC%2FUSD` arrives decoded as `BTC/USD`, `BTCUSD` stays as is; both resolve. */
function symbolParam(req: SimRequest): string {
  const { symbol_or_asset_id: one, symbol, base, quote } = req.params;
  return base !== undefined ? `${base}/${quote}` : one ?? symbol;
}

/** New York wall-clock time of an instant as HH<sep>MM. */
const wallClock = (t: number, sep: string) => new Date(t + newYorkOffset(t)).toISOString().slice(11, 16).replace(':', sep);

/** A calendar bound: the date part of YYYY-MM-DD or an RFC-3339 timestamp, as written. */
function calendarDate(req: SimRequest, name: 'start' | 'end'): string | undefined {
  const text = req.query.get(name);
  if (text === null || text === '') return undefined;
  timestampParam(text, name);
  return text.slice(0, 10);
}

/** A route that refuses query parameters the spec does not list, and answers errors with their extra fields. */
function route(method: Route['method'], pattern: string, query: string[], handler: (req: SimRequest) => SimResponse): Route {
  const allowed = new Set(query);
  return {
    method,
    pattern,
    handler: (req) => {
      for (const name of req.query.keys()) if (!allowed.has(name)) throw badRequest(`unknown query parameter: ${name}`);
      try {
        return handler(req);
      } catch (err) {
        if (err instanceof SimHttpError && err.details) {
          return { status: err.status, body: { code: err.code, message: err.message, ...err.details } };
        }
        throw err;
      }
    },
  };
}

export function tradingRoutes(broker: Broker, market: MarketView, clock: SimClock, stats: SimStats): Route[] {
  const ok = (body: unknown, status = 200): SimResponse => ({ status, body });
  const noContent = (): SimResponse => ({ status: 204 });

  const getPosition = (req: SimRequest) => ok(broker.getPosition(symbolParam(req)));
  const closePosition = (req: SimRequest) =>
    ok(broker.closePosition(symbolParam(req), { qty: req.query.get('qty'), percentage: req.query.get('percentage') }));
  const getAsset = (req: SimRequest) => {
    const asset = resolveAsset(market, symbolParam(req));
    if (!asset) throw notFound('asset not found');
    return ok(assetJson(asset));
  };

  /** The stock market's clock at `at` in /v3/clock's shape. */
  const marketClock = (at: number, market: { acronym: string; name: string; mic: string }) => {
    const { nextOpen, nextClose } = clock.nextOpenClose(at);
    const phase = clock.phase(at);
    const alwaysOpen = clock.session(at) === undefined;
    const today = alwaysOpen ? undefined : nyseSession(newYorkDate(at));
    let until: number;
    if (phase === 'core') until = nextClose;
    else if (phase === 'pre') until = nextOpen;
    else if (phase === 'post' && today) until = today.postClose;
    else until = sessionAfter(at, 'preOpen').preOpen;
    return {
      market: { ...market, timezone: 'America/New_York' },
      timestamp: new Date(at).toISOString(),
      is_market_day: alwaysOpen || today !== undefined,
      next_market_open: new Date(nextOpen).toISOString(),
      next_market_close: new Date(nextClose).toISOString(),
      phase,
      phase_until: new Date(until).toISOString(),
    };
  };

  // Watchlists by id (/v2/watchlists/{id}) or by name (/v2/watchlists:by_name?name=).
  const byId = (req: SimRequest): WatchlistKey => ({ id: req.params.watchlist_id });
  const byName = (req: SimRequest): WatchlistKey => {
    const name = req.query.get('name');
    if (!name) throw badRequest('name is required');
    return { name };
  };

  return [
    route('GET', '/v2/account', [], () => ok(broker.getAccount())),
    route('GET', '/v2/account/configurations', [], () => ok(broker.getConfigurations())),
    route('PATCH', '/v2/account/configurations', [], (req) => ok(broker.configure(req.body))),
    route('GET', '/v2/account/activities', ['activity_types', 'category', 'date', 'until', 'after', 'direction', 'page_size', 'page_token'], (req) =>
      ok(broker.getActivities(req.query)),
    ),
    route('GET', '/v2/account/activities/{activity_type}', ['date', 'until', 'after', 'direction', 'page_size', 'page_token'], (req) =>
      ok(broker.getActivities(req.query, req.params.activity_type)),
    ),
    route(
      'GET',
      '/v2/account/portfolio/history',
      ['period', 'timeframe', 'intraday_reporting', 'start', 'pnl_reset', 'end', 'extended_hours', 'cashflow_types'],
      (req) => ok(broker.getPortfolioHistory(req.query)),
    ),

    route('GET', '/v2/assets', ['status', 'asset_class', 'exchange', 'attributes'], (req) => {
      const status = req.query.get('status');
      const assetClass = req.query.get('asset_class');
      const exchange = req.query.get('exchange');
      const attributes = req.query.get('attributes');
      const list = market
        .assets()
        .filter(() => !status || status === 'active')
        .filter((a) => !assetClass || a.assetClass === assetClass)
        .filter((a) => !exchange || a.exchange === exchange)
        // No simulated asset carries attributes: asking for any leaves none.
        .filter(() => !attributes)
        .map(assetJson);
      return ok(list);
    }),
    route('GET', '/v2/assets/{symbol_or_asset_id}', [], getAsset),
    route('GET', '/v2/assets/{base}/{quote}', [], getAsset),

    route('GET', '/v2/clock', [], () => {
      const now = clock.now();
      const { nextOpen, nextClose } = clock.nextOpenClose(now);
      return ok({
        timestamp: new Date(now).toISOString(),
        is_open: clock.isMarketOpen(now),
        next_open: new Date(nextOpen).toISOString(),
        next_close: new Date(nextClose).toISOString(),
      });
    }),
    route('GET', '/v3/clock', ['markets', 'time'], (req) => {
      const time = req.query.get('time');
      const at = time ? timestampParam(time, 'time') : clock.now();
      const codes = (req.query.get('markets') || 'NYSE').split(',').map((m) => m.trim().toUpperCase());
      for (const code of codes) if (!EQUITY_MARKETS[code]) throw badRequest(`unsupported market: ${code}`);
      return ok({ clocks: codes.map((code) => marketClock(at, { acronym: code, ...EQUITY_MARKETS[code] })) });
    }),
    route('GET', '/v2/calendar', ['start', 'end', 'date_type'], (req) => {
      const dateType = req.query.get('date_type') ?? 'TRADING';
      if (dateType !== 'TRADING' && dateType !== 'SETTLEMENT') throw badRequest(`invalid date_type: ${dateType}`);
      const start = calendarDate(req, 'start') ?? CALENDAR_FIRST;
      const end = calendarDate(req, 'end') ?? CALENDAR_LAST;
      const first = start < CALENDAR_FIRST ? CALENDAR_FIRST : start;
      const last = end > CALENDAR_LAST ? CALENDAR_LAST : end;
      // Settlement dates trail trading dates by at most a week.
      const sessions = dateType === 'TRADING' ? tradingSessions(first, last) : tradingSessions(addDays(first, -10), last);
      const days = [];
      for (const s of sessions) {
        const settlement = settlementDate(s.date);
        if (dateType === 'SETTLEMENT' && (settlement < first || settlement > last)) continue;
        days.push({
          date: s.date,
          open: wallClock(s.open, ':'),
          close: wallClock(s.close, ':'),
          session_open: wallClock(s.preOpen, ''),
          session_close: wallClock(s.postClose, ''),
          settlement_date: settlement,
        });
      }
      return ok(days);
    }),

    route('POST', '/v2/orders', [], (req) => {
      const order = broker.submitOrder(req.body);
      stats.orders++;
      return ok(order);
    }),
    route(
      'GET',
      '/v2/orders',
      ['status', 'limit', 'after', 'until', 'direction', 'nested', 'symbols', 'side', 'asset_class', 'before_order_id', 'after_order_id'],
      (req) => {
        const q = req.query;
        const limit = q.get('limit');
        const list = (name: string) => q.get(name)?.split(',').map((s) => s.trim()).filter(Boolean);
        return ok(
          broker.listOrders({
            status: q.get('status') ?? undefined,
            limit: limit === null ? undefined : Number(limit),
            after: q.get('after') ?? undefined,
            until: q.get('until') ?? undefined,
            direction: q.get('direction') ?? undefined,
            nested: bool(q.get('nested')),
            symbols: list('symbols'),
            side: q.get('side') ?? undefined,
            assetClasses: list('asset_class'),
            beforeOrderId: q.get('before_order_id') ?? undefined,
            afterOrderId: q.get('after_order_id') ?? undefined,
          }),
        );
      },
    ),
    route('DELETE', '/v2/orders', [], () => ok(broker.cancelAllOrders(), 207)),
    route('GET', '/v2/orders:by_client_order_id', ['client_order_id'], (req) => {
      const clientOrderId = req.query.get('client_order_id');
      if (!clientOrderId) throw new SimHttpError(422, 40010001, 'client_order_id is required');
      return ok(broker.getOrderByClientOrderId(clientOrderId));
    }),
    route('GET', '/v2/orders/{order_id}', ['nested'], (req) => ok(broker.getOrder(req.params.order_id, bool(req.query.get('nested')) ?? true))),
    route('PATCH', '/v2/orders/{order_id}', [], (req) => ok(broker.replaceOrder(req.params.order_id, req.body))),
    route('DELETE', '/v2/orders/{order_id}', [], (req) => {
      broker.cancelOrder(req.params.order_id);
      return noContent();
    }),

    route('GET', '/v2/positions', [], () => ok(broker.getPositions())),
    route('DELETE', '/v2/positions', ['cancel_orders'], (req) => ok(broker.closeAllPositions(bool(req.query.get('cancel_orders')) === true), 207)),
    route('GET', '/v2/positions/{symbol_or_asset_id}', [], getPosition),
    route('GET', '/v2/positions/{base}/{quote}', [], getPosition),
    route('DELETE', '/v2/positions/{symbol_or_asset_id}', ['qty', 'percentage'], closePosition),
    route('DELETE', '/v2/positions/{base}/{quote}', ['qty', 'percentage'], closePosition),

    route('GET', '/v2/watchlists', [], () => ok(broker.watchlists.all())),
    route('POST', '/v2/watchlists', [], (req) => ok(broker.watchlists.create(req.body))),
    route('GET', '/v2/watchlists:by_name', ['name'], (req) => ok(broker.watchlists.get(byName(req)))),
    route('PUT', '/v2/watchlists:by_name', ['name'], (req) => ok(broker.watchlists.update(byName(req), req.body))),
    route('POST', '/v2/watchlists:by_name', ['name'], (req) => ok(broker.watchlists.add(byName(req), req.body))),
    route('DELETE', '/v2/watchlists:by_name', ['name'], (req) => {
      broker.watchlists.delete(byName(req));
      return noContent();
    }),
    route('GET', '/v2/watchlists/{watchlist_id}', [], (req) => ok(broker.watchlists.get(byId(req)))),
    route('PUT', '/v2/watchlists/{watchlist_id}', [], (req) => ok(broker.watchlists.update(byId(req), req.body))),
    route('POST', '/v2/watchlists/{watchlist_id}', [], (req) => ok(broker.watchlists.add(byId(req), req.body))),
    route('DELETE', '/v2/watchlists/{watchlist_id}', [], (req) => {
      broker.watchlists.delete(byId(req));
      return noContent();
    }),
    route('DELETE', '/v2/watchlists/{watchlist_id}/{symbol}', [], (req) => ok(broker.watchlists.remove(byId(req), symbolParam(req)))),
    route('DELETE', '/v2/watchlists/{watchlist_id}/{base}/{quote}', [], (req) => ok(broker.watchlists.remove(byId(req), symbolParam(req)))),
  ];
}
