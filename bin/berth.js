#!/usr/bin/env node
// Runs the compiled CLI; `npm install` builds it through the `prepare` script.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('berth: the compiled CLI is missing; run `npm run build` in the checkout first.');
    process.exit(1);
  }
  throw err;
});
