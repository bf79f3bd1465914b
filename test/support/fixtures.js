'use strict';
// Node definitions the tests share: the simulator account and an order node with every dialog field empty.

/** An account config node on the built-in simulator (sim mode, no Endpoint, no keys). */
const ACCOUNT = { id: 'acct', type: 'alpaca-account', name: 'Sim', mode: 'sim', feed: 'iex', endpoint: '', liveAck: false };

/** ACCOUNT with other settings (a budget, an Endpoint, another name). */
const account = (settings = {}) => ({ ...ACCOUNT, ...settings });

/** An alpaca-order node's settings with every field left empty: the msg says it all (action: submit). */
const BLANK = {
  action: 'submit', symbol: '', side: '', orderType: '', orderClass: '', timeInForce: '', qty: '', notional: '',
  limitPrice: '', stopPrice: '', trailPrice: '', trailPercent: '', extendedHours: '', takeProfitLimitPrice: '',
  stopLossStopPrice: '', stopLossLimitPrice: '', positionIntent: '', waitForFinal: false, timeout: 60, keyProperty: '', maxWait: '',
};

/** A built-in simulator whose prices move only when a test posts one (no random walk), open around the clock. */
const QUIET_SIMULATOR = { seed: 1, tickMs: 3600000, marketHours: 'always' };

module.exports = { ACCOUNT, account, BLANK, QUIET_SIMULATOR };
