// Validates Dashboard Studio definitions with Splunk's own validator (@splunk/dashboard-validation) against
// the schema Dashboard Studio builds from its Enterprise preset (@splunk/dashboard-presets): the JSON schema
// of every layout, data source, input, visualization and event handler, then the validator's own checks
// (items placed in the layout, inputs used, tokens unique, tabs and layouts consistent).
// Usage: node validate.js DEFINITION.json...  Prints {"<file>": [errors] | null, ...} as JSON on stdout.
'use strict';

// The presets pull in the browser components; give them the DOM they expect (jsdom) and stub what
// jsdom lacks. Nothing is rendered: only the schema the components declare is read.
for (const extension of ['.css', '.svg', '.png']) require.extensions[extension] = () => {};
require('global-jsdom/register');
globalThis.Event = window.Event;
globalThis.CustomEvent = window.CustomEvent;
globalThis.EventTarget = window.EventTarget;
window.URL.createObjectURL = () => 'blob:stub';
window.URL.revokeObjectURL = () => {};
window.ace = { require() {}, define() {}, config: { set() {}, setModuleUrl() {}, loadModule() {} } };
globalThis.matchMedia = window.matchMedia = () => ({
  matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {},
});
globalThis.ResizeObserver = window.ResizeObserver = class { observe() {} unobserve() {} disconnect() {} };

const fs = require('fs');
const { createSchemaBasedOnPresets } = require('@splunk/dashboard-definition/DashboardSchema');
const presets = require('@splunk/dashboard-presets/EnterprisePreset');
const { DashboardValidator } = require('@splunk/dashboard-validation');

const schema = createSchemaBasedOnPresets(presets.default || presets);
const results = {};
for (const file of process.argv.slice(2)) {
  const validator = new DashboardValidator();
  const schemaError = validator.setSchema(schema);
  if (schemaError) throw schemaError;
  results[file] = validator.validate(JSON.parse(fs.readFileSync(file, 'utf8')), []);
}
process.stdout.write(JSON.stringify(results));
process.exit(0);  // the presets leave timers behind
