// Account activities (GET /v2/account/activities): a FILL per execution and non-trade entries
// such as the crypto fee (CFEE), the newest kept in a bounded log, filtered and paged by activity
// id the way Alpaca pages them.
import { randomUUID } from 'node:crypto';
import { newYorkOffset } from '../calendar';
import { badRequest, timestampParam } from '../input';

/** Alpaca's activity types (trading-api.json ActivityType). */
export const ACTIVITY_TYPES: ReadonlySet<string> = new Set([
  'FILL', 'TRANS', 'MISC', 'ACATC', 'ACATS', 'CFEE', 'CGD', 'CSD', 'CSW', 'DIV', 'DIVCGL', 'DIVCGS', 'DIVFEE', 'DIVFT',
  'DIVNRA', 'DIVROC', 'DIVTW', 'DIVTXEX', 'FEE', 'INT', 'INTNRA', 'INTTW', 'JNL', 'JNLC', 'JNLS', 'MA', 'NC', 'OPASN',
  'OPCA', 'OPCSH', 'OPEXC', 'OPEXP', 'OPTRD', 'PTC', 'PTR', 'REORG', 'SPIN', 'SPLIT', 'FOPT',
]);

export type ActivityJson = Record<string, unknown> & { id: string; activity_type: string };

interface Activity {
  at: number;
  json: ActivityJson;
}

/** Alpaca's activity id: New York wall time to the millisecond, then a UUID (sortable, a valid page token). */
function activityId(at: number): string {
  const wall = new Date(at + newYorkOffset(at)).toISOString();
  return `${wall.slice(0, 23).replace(/[-:T.]/g, '')}::${randomUUID()}`;
}

export class ActivityLog {
  private entries: Activity[] = [];
  private readonly index = new Map<string, Activity>();

  constructor(private readonly max = 20_000) {}

  clear(): void {
    this.entries = [];
    this.index.clear();
  }

  /** Appends an activity of `type` at `at`; `fields` complete Alpaca's JSON for it. */
  add(type: string, at: number, fields: Record<string, unknown>): ActivityJson {
    const json: ActivityJson = { id: activityId(at), activity_type: type, ...fields };
    const entry = { at, json };
    this.entries.push(entry);
    this.index.set(json.id, entry);
    if (this.entries.length > this.max * 1.25) {
      for (const old of this.entries.splice(0, this.entries.length - this.max)) this.index.delete(old.json.id);
    }
    return json;
  }

  /**
   * GET /v2/account/activities[/{type}]: `pathType` is the type from the path. Query: activity_types,
   * category, date, until, after, direction, page_size, page_token. 400 for anything malformed.
   */
  query(q: URLSearchParams, pathType?: string): ActivityJson[] {
    let types: Set<string> | undefined;
    const listed = q.get('activity_types');
    const category = q.get('category');
    if (pathType !== undefined) types = new Set([pathType]);
    else if (listed !== null) types = new Set(listed.split(',').map((t) => t.trim()));
    for (const t of types ?? []) if (!ACTIVITY_TYPES.has(t)) throw badRequest(`invalid activity type: ${t}`);
    if (category !== null) {
      if (category !== 'trade_activity' && category !== 'non_trade_activity') throw badRequest(`invalid category: ${category}`);
      if (listed !== null) throw badRequest('category cannot be used with activity_types');
    }
    const day = q.get('date');
    const dayStart = day === null ? undefined : Date.parse(`${new Date(timestampParam(day, 'date')).toISOString().slice(0, 10)}T00:00:00Z`);
    const after = q.get('after') === null ? undefined : timestampParam(q.get('after') as string, 'after');
    const until = q.get('until') === null ? undefined : timestampParam(q.get('until') as string, 'until');
    const direction = q.get('direction') ?? 'desc';
    if (direction !== 'asc' && direction !== 'desc') throw badRequest(`invalid direction: ${direction}`);
    const sizeText = q.get('page_size');
    const pageSize = sizeText === null ? 100 : Number(sizeText);
    if (!/^\d+$/.test(sizeText ?? '100') || pageSize < 1 || pageSize > 100) throw badRequest(`invalid page_size: ${sizeText} (1 to 100)`);
    const token = q.get('page_token');
    const anchor = token === null ? undefined : this.index.get(token);
    if (token !== null && !anchor) throw badRequest(`invalid page_token: ${token}`);

    const ordered = direction === 'asc' ? this.entries : [...this.entries].reverse();
    let start = anchor ? ordered.indexOf(anchor) + 1 : 0;
    const out: ActivityJson[] = [];
    for (; start < ordered.length && out.length < pageSize; start++) {
      const { at, json } = ordered[start];
      const type = json.activity_type;
      if (types && !types.has(type)) continue;
      if (category === 'trade_activity' && type !== 'FILL') continue;
      if (category === 'non_trade_activity' && type === 'FILL') continue;
      if (dayStart !== undefined && (at < dayStart || at >= dayStart + 86_400_000)) continue;
      if (after !== undefined && !(at > after)) continue;
      if (until !== undefined && !(at < until)) continue;
      out.push(json);
    }
    return out;
  }
}
