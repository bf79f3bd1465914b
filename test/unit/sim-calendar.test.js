'use strict';
// The simulator's NYSE calendar by rule: holidays and their observed days, Good Friday, early
// closes, sessions with extended hours, settlement dates, and the clock built on them. Checked
// against the exchange's published calendars, and in another machine time zone.
const assert = require('assert');
const { execFileSync } = require('child_process');
const path = require('path');
const cal = require('../../dist/lib/sim/calendar');
const { Clock } = require('../../dist/lib/sim/clock');

const holidaysOf = (year) => [...cal.holidays(year)].sort();

describe('sim calendar (NYSE by rule)', () => {
  it('knows the published NYSE holidays, observed days included', () => {
    assert.deepStrictEqual(holidaysOf(2024), ['2024-01-01', '2024-01-15', '2024-02-19', '2024-03-29', '2024-05-27', '2024-06-19', '2024-07-04', '2024-09-02', '2024-11-28', '2024-12-25']);
    // 2025 adds the national day of mourning for President Carter (9 January).
    assert.deepStrictEqual(holidaysOf(2025), ['2025-01-01', '2025-01-09', '2025-01-20', '2025-02-17', '2025-04-18', '2025-05-26', '2025-06-19', '2025-07-04', '2025-09-01', '2025-11-27', '2025-12-25']);
    // Independence Day on a Saturday: closed Friday 3 July.
    assert.deepStrictEqual(holidaysOf(2026), ['2026-01-01', '2026-01-19', '2026-02-16', '2026-04-03', '2026-05-25', '2026-06-19', '2026-07-03', '2026-09-07', '2026-11-26', '2026-12-25']);
    // Juneteenth and Christmas on Saturdays (Fridays off), Independence Day on a Sunday (Monday off).
    assert.deepStrictEqual(holidaysOf(2027), ['2027-01-01', '2027-01-18', '2027-02-15', '2027-03-26', '2027-05-31', '2027-06-18', '2027-07-05', '2027-09-06', '2027-11-25', '2027-12-24']);
    // New Year's Day on a Saturday is not observed (31 Dec 2021 traded); Juneteenth's first year, on a Sunday.
    assert.deepStrictEqual(holidaysOf(2022), ['2022-01-17', '2022-02-21', '2022-04-15', '2022-05-30', '2022-06-20', '2022-07-04', '2022-09-05', '2022-11-24', '2022-12-26']);
    assert.strictEqual(cal.isTradingDay('2021-12-31'), true);
    assert.ok(!holidaysOf(2021).some((d) => d.endsWith('-06-18') || d.endsWith('-06-19')), 'no Juneteenth before 2022');
    assert.strictEqual(cal.isTradingDay('2024-03-30'), false, 'a Saturday');
  });

  it('computes Easter (Good Friday) for any year', () => {
    assert.strictEqual(cal.easterSunday(2024), '2024-03-31');
    assert.strictEqual(cal.easterSunday(2025), '2025-04-20');
    assert.strictEqual(cal.easterSunday(2038), '2038-04-25');
    assert.strictEqual(cal.easterSunday(2285), '2285-03-22');
    assert.strictEqual(cal.easterSunday(1943), '1943-04-25');
    assert.ok(cal.holidays(2285).has('2285-03-20'), 'Good Friday two days before');
  });

  it('closes at 13:00 New York (post-market to 17:00) the day before Independence Day, after Thanksgiving and on Christmas Eve', () => {
    const early = (year) => cal.tradingSessions(`${year}-01-01`, `${year}-12-31`).filter((s) => s.earlyClose).map((s) => s.date);
    assert.deepStrictEqual(early(2024), ['2024-07-03', '2024-11-29', '2024-12-24']);
    assert.deepStrictEqual(early(2025), ['2025-07-03', '2025-11-28', '2025-12-24']);
    assert.deepStrictEqual(early(2026), ['2026-11-27', '2026-12-24'], '3 July 2026 is the holiday itself');
    assert.deepStrictEqual(early(2023), ['2023-07-03', '2023-11-24'], 'Christmas Eve 2023 is a Sunday');
    const s = cal.nyseSession('2025-11-28');
    assert.strictEqual(new Date(s.close).toISOString(), '2025-11-28T18:00:00.000Z');
    assert.strictEqual(new Date(s.postClose).toISOString(), '2025-11-28T22:00:00.000Z');
    const normal = cal.nyseSession('2025-07-02');
    assert.strictEqual(new Date(normal.preOpen).toISOString(), '2025-07-02T08:00:00.000Z');
    assert.strictEqual(new Date(normal.open).toISOString(), '2025-07-02T13:30:00.000Z');
    assert.strictEqual(new Date(normal.close).toISOString(), '2025-07-02T20:00:00.000Z');
    assert.strictEqual(new Date(normal.postClose).toISOString(), '2025-07-03T00:00:00.000Z');
  });

  it('phases and the next open and close, across weekends, holidays and daylight saving', () => {
    const at = (iso) => Date.parse(iso);
    assert.strictEqual(cal.phaseAt(at('2025-03-07T14:00:00Z')), 'pre', 'Friday 09:00 EST');
    assert.strictEqual(cal.phaseAt(at('2025-03-07T14:30:00Z')), 'core', 'Friday 09:30 EST');
    assert.strictEqual(cal.phaseAt(at('2025-03-07T21:30:00Z')), 'post');
    assert.strictEqual(cal.phaseAt(at('2025-03-08T15:00:00Z')), 'closed', 'Saturday');
    assert.strictEqual(cal.phaseAt(at('2025-03-10T13:30:00Z')), 'core', 'Monday 09:30 EDT, after the clocks changed');
    assert.strictEqual(cal.phaseAt(at('2025-11-27T16:00:00Z')), 'closed', 'Thanksgiving');
    const weekend = cal.nextOpenClose(at('2025-03-08T15:00:00Z'));
    assert.strictEqual(new Date(weekend.nextOpen).toISOString(), '2025-03-10T13:30:00.000Z');
    assert.strictEqual(new Date(weekend.nextClose).toISOString(), '2025-03-10T20:00:00.000Z');
    const open = cal.nextOpenClose(at('2025-11-26T15:00:00Z'));
    assert.strictEqual(new Date(open.nextClose).toISOString(), '2025-11-26T21:00:00.000Z');
    assert.strictEqual(new Date(open.nextOpen).toISOString(), '2025-11-28T14:30:00.000Z', 'skips Thanksgiving');
  });

  it('settles T+1 from 28 May 2024 (T+2 before), on trading days', () => {
    assert.strictEqual(cal.settlementDate('2025-07-03'), '2025-07-07');
    assert.strictEqual(cal.settlementDate('2024-05-28'), '2024-05-29');
    assert.strictEqual(cal.settlementDate('2024-05-24'), '2024-05-29', 'T+2 over Memorial Day');
  });

  it('does not depend on the machine time zone', () => {
    const probe = `const c=require(${JSON.stringify(path.resolve(__dirname, '../../dist/lib/sim/calendar'))});
      const out=[];for(let t=Date.UTC(2025,2,7);t<Date.UTC(2025,2,12);t+=1800000)out.push(c.phaseAt(t)+c.newYorkDate(t));
      out.push(c.newYorkMidnight(Date.UTC(2025,10,2,12)));process.stdout.write(JSON.stringify(out));`;
    const here = JSON.parse(execFileSync(process.execPath, ['-e', probe], { env: { ...process.env, TZ: 'UTC' } }).toString());
    for (const tz of ['Asia/Tokyo', 'America/Los_Angeles', 'Pacific/Chatham']) {
      const there = JSON.parse(execFileSync(process.execPath, ['-e', probe], { env: { ...process.env, TZ: tz } }).toString());
      assert.deepStrictEqual(there, here, tz);
    }
    assert.strictEqual(here[here.length - 1], Date.UTC(2025, 10, 2, 4), 'midnight New York on the day the clocks go back');
  });

  it("the clock follows the NYSE by default; 'always' keeps stocks open", () => {
    const saturday = Date.parse('2025-03-08T15:00:00Z');
    const nyse = new Clock({ start: saturday });
    assert.strictEqual(nyse.marketHours, 'nyse');
    assert.strictEqual(nyse.isMarketOpen(), false);
    assert.strictEqual(nyse.phase(), 'closed');
    assert.strictEqual(nyse.session().date, '2025-03-10');
    assert.notStrictEqual(nyse.nextOpenClose().nextOpen, nyse.nextOpenClose().nextClose);
    const always = new Clock({ start: saturday, marketHours: 'always' });
    assert.strictEqual(always.isMarketOpen(), true);
    assert.strictEqual(always.phase(), 'core');
    assert.strictEqual(always.session(), undefined);
  });
});
