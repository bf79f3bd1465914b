'use strict';
// The settings.js that `npm start` writes into a new user directory, also used by the tests that
// start Node-RED like it and by the Raspberry Pi check: one list, each setting with its reason.
const crypto = require('crypto');

/**
 * The text of a settings.js. `nodesDir`: load the pack from this directory (the repository)
 * instead of the user directory's node_modules. `overrides`: settings to replace or add
 * (JSON-serialisable; an overridden setting loses its comment, the reason may no longer hold).
 */
function developmentSettings({ nodesDir, credentialSecret = crypto.randomBytes(24).toString('hex'), overrides = {} } = {}) {
  const settings = [
    ['uiHost', '127.0.0.1', 'Only this machine reaches the editor and the demo endpoint.'],
    ['flowFile', 'flows.json'],
    ['credentialSecret', credentialSecret, 'Encrypts flows_cred.json; generated once for this directory.'],
    nodesDir && ['nodesDir', [nodesDir], 'Loads the pack straight from the repository (package.json "node-red" section, examples too).'],
    ['alpacaSimulator', { seed: 1 }, 'The built-in simulator: same seed, same prices.'],
    [
      'contextStorage',
      { default: { module: 'localfilesystem', config: { flushInterval: 0 } } },
      "Context on disk, written at once: a breaker's HALT survives a restart, even a killed process.",
    ],
    ['telemetry', { enabled: false }, 'No "Enable Update Notifications" prompt over the editor, nothing sent to nodered.org (User Settings can turn it on).'],
    ['logging', { console: { level: 'info', metrics: false, audit: false } }],
    ['editorTheme', { tours: false }, 'No welcome tour over the editor.'],
  ].filter(Boolean);
  const lines = [];
  for (const [key, value, why] of settings) {
    const overridden = Object.prototype.hasOwnProperty.call(overrides, key);
    if (why && !overridden) lines.push(`  // ${why}`);
    lines.push(`  ${key}: ${JSON.stringify(overridden ? overrides[key] : value)},`);
  }
  const known = new Set(settings.map(([key]) => key));
  for (const [key, value] of Object.entries(overrides)) {
    if (!known.has(key)) lines.push(`  ${JSON.stringify(key)}: ${JSON.stringify(value)},`);
  }
  return `// Written by @tradeflow/node-red-alpaca's scripts/start.js for local development. Edit freely: it is
// never overwritten. Keep it: its credentialSecret decrypts the keys saved in flows_cred.json.
module.exports = {
${lines.join('\n')}
};
`;
}

module.exports = { developmentSettings };
