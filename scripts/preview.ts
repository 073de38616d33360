/**
 * `npm run preview -- [--config relay.yaml] [--destination NAME] FILE.json`: prints what each
 * destination the notification in FILE routes to would send, and which destinations it does
 * not route to and why; sends nothing (lib/ops/preview.ts). The config is found as `npm start`
 * finds it: --config, else RELAY_CONFIG, else ./relay.yaml.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../lib/config/load.ts';
import {
  formatPreview,
  PREVIEW_USAGE,
  parsePayload,
  previewArguments,
  previewNotification,
  unmatchedDestinations,
} from '../lib/ops/preview.ts';

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${PREVIEW_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stderr.write(`${PREVIEW_USAGE}\n`);
    return 0;
  }
  const given = previewArguments({
    config: values.config,
    destination: values.destination,
    positionals,
    env: process.env,
    cwd: process.cwd(),
  });
  if (!given.ok) {
    process.stderr.write(`${given.message}\n`);
    return 2;
  }
  const { configPath, payloadPath, destination } = given.arguments;
  try {
    const config = parseConfig(readFileSync(configPath, 'utf8'), configPath);
    const notification = parsePayload(readFileSync(payloadPath, 'utf8'));
    if (destination && !config.destinations.some((d) => d.name === destination)) {
      process.stderr.write(
        `no destination named "${destination}" in ${configPath} (it has ${config.destinations.map((d) => d.name).join(', ')})\n`,
      );
      return 2;
    }
    const previews = await previewNotification(config, notification, { destination });
    process.stdout.write(
      formatPreview(previews, unmatchedDestinations(config, notification, { destination })),
    );
    return previews.some((p) => p.error !== undefined) ? 1 : 0;
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
    return 1;
  }
}

function parse() {
  return parseArgs({
    options: { config: { type: 'string' }, destination: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
}

process.exitCode = await main();
