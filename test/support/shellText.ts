// The compiled tests and benches load the remote layer's .sh modules as text,
// as the esbuild bundle does with its text loader. Imported first by every
// entry point that runs compiled code (and by mocha through .mocharc.json).
import * as fs from 'node:fs';

require.extensions['.sh'] = (module, filename) => {
  module.exports = fs.readFileSync(filename, 'utf8');
};
