'use strict';
// Checks `sls package` and `sls deploy` run, for what only osls knows: the stage. serverless.yml
// resolves `custom.packageChecks` through this file (osls calls an exported function with
// resolveVariable); a thrown error stops the command before anything is packaged or deployed.
// The checks themselves are lib/infra/deploy-checks.ts (tested); the function keys are the ones
// `npm run build` wrote to .build/serverless/functions.json. Runs on the Node 24 of
// node_modules/.bin (npm scripts and npx put it first), which loads TypeScript natively.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

module.exports = async ({ resolveVariable }) => {
  const [service, stage] = await Promise.all([resolveVariable('self:service'), resolveVariable('sls:stage')]);
  const functions = JSON.parse(
    readFileSync(join(__dirname, '../../.build/serverless/functions.json'), 'utf8'),
  );
  const { stageProblems } = await import('./deploy-checks.ts').catch((error) => {
    if (error?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    const hint = new Error(
      `sls runs on Node ${process.version}, which cannot load TypeScript: run it as npm run package / ` +
        'npm run deploy or npx sls, which use the Node 24 of node_modules/.bin',
    );
    hint.stack = hint.message;
    throw hint;
  });
  const problems = stageProblems(service, stage, Object.keys(functions));
  if (problems.length === 0) return 'passed';
  // osls prints the stack of what the function throws: make it the message alone.
  const error = new Error(problems.join('\n'));
  error.stack = error.message;
  throw error;
};
