/**
 * `npm run preview -- --config relay.yaml [--destination NAME] FILE.json`: prints what each
 * destination the notification in FILE routes to would send, and sends nothing
 * (lib/ops/preview.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../lib/config/load.ts';
import { formatPreview, parsePayload, previewNotification } from '../lib/ops/preview.ts';

const USAGE = 'usage: npm run preview -- --config relay.yaml [--destination NAME] FILE.json';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { config: { type: 'string' }, destination: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help || !values.config || positionals.length !== 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  try {
    const config = parseConfig(readFileSync(values.config, 'utf8'), values.config);
    const notification = parsePayload(readFileSync(positionals[0], 'utf8'));
    if (values.destination && !config.destinations.some((d) => d.name === values.destination)) {
      process.stderr.write(`no destination named "${values.destination}" in ${values.config}\n`);
      return 2;
    }
    const previews = await previewNotification(config, notification, { destination: values.destination });
    process.stdout.write(formatPreview(previews));
    return previews.some((p) => p.error !== undefined) ? 1 : 0;
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
