import type { SinkPreview } from '../../delivery/sink.ts';

/** Slack's Block Kit Builder with these blocks loaded. */
export function blockKitBuilderUrl(blocks: unknown[]): string {
  return `https://app.slack.com/block-kit-builder/#${encodeURIComponent(JSON.stringify({ blocks }))}`;
}

/** What `npm run preview` answers for Slack (and the graph's Prometheus), and a Block Kit Builder link per message. */
export const slackPreview: SinkPreview = {
  answer: (url) => {
    if (/\/api\/v1\/query(_range)?$/.test(url.pathname))
      return { status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [] } } };
    if (url.pathname.endsWith('/files.getUploadURLExternal'))
      return {
        status: 200,
        body: { ok: true, upload_url: 'https://files.slack.invalid/upload', file_id: 'F0PREVIEW' },
      };
    return {
      status: 200,
      body: {
        ok: true,
        channel: 'C0PREVIEW',
        ts: '1700000000.000100',
        messages: [],
        files: [{ id: 'F0PREVIEW' }],
      },
    };
  },
  explain: (body) => {
    try {
      const blocks = (JSON.parse(body) as { blocks?: unknown }).blocks;
      return Array.isArray(blocks) ? [`Block Kit Builder: ${blockKitBuilderUrl(blocks)}`] : [];
    } catch {
      // Not JSON (a file upload): no blocks to show.
      return [];
    }
  },
};
