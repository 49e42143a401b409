// mocha's spec output for people, plus a JSON line of counts for the test
// command's one-line summary (scripts/test.sh reads INFRAKT_STATS_FILE).
const fs = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    runner.once('end', () => {
      const file = process.env.INFRAKT_STATS_FILE;
      if (file) fs.appendFileSync(file, JSON.stringify(counts) + '\n');
    });
  }
}

module.exports = SummaryReporter;
