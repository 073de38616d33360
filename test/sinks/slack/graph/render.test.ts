import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAlertGraph } from '../../../../lib/sinks/slack/graph/alert-graph.ts';
import { assetCandidates, readGraphAsset } from '../../../../lib/sinks/slack/graph/assets.ts';
import {
  ALERT_COLOR,
  CHART_HEIGHT,
  CHART_WIDTH,
  type ChartSeries,
  chartSvg,
  SERIES_COLORS,
} from '../../../../lib/sinks/slack/graph/chart.ts';
import { svgToPixels, svgToPng } from '../../../../lib/sinks/slack/graph/render.ts';
import { type FakePrometheus, startFakePrometheus } from '../../../support/fake-prometheus.ts';
import {
  LATENCY_NOW,
  LATENCY_QUERY,
  LATENCY_SERIES,
  latencyNotification,
} from '../../../support/graph-data.ts';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const END = Date.parse('2026-11-21T12:00:00Z') / 1000;
const START = END - 3600;
const noSecrets = { get: () => Promise.reject(new Error('no secrets in this test')) };

interface Image {
  width: number;
  height: number;
  /** RGBA */
  pixels: Uint8Array;
}

/** Width and height from the IHDR chunk, which must come first. */
function ihdr(png: Uint8Array): { width: number; height: number; bitDepth: number; colorType: number } {
  const view = Buffer.from(png);
  expect(view.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return {
    width: view.readUInt32BE(16),
    height: view.readUInt32BE(20),
    bitDepth: view[24] ?? 0,
    colorType: view[25] ?? 0,
  };
}

// Enough of PNG to read what resvg writes (8-bit RGBA, not interlaced), so the checks look at
// the bytes we would upload, not at a second rendering.
function decodePng(png: Uint8Array): Image {
  const buffer = Buffer.from(png);
  const { width, height, bitDepth, colorType } = ihdr(png);
  expect([bitDepth, colorType, buffer[28]]).toEqual([8, 6, 0]);
  const idat: Buffer[] = [];
  for (let offset = 8; offset < buffer.length; ) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.subarray(offset + 4, offset + 8).toString('latin1');
    if (type === 'IDAT') idat.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] ?? 0;
      const left = x >= 4 ? (pixels[y * stride + x - 4] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = x >= 4 && y > 0 ? (pixels[(y - 1) * stride + x - 4] ?? 0) : 0;
      const p = left + up - upLeft;
      const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
      const paeth = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      const predictor = [0, left, up, (left + up) >> 1, paeth][filter ?? 0] ?? 0;
      pixels[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  return { width, height, pixels };
}

function hex(color: string): [number, number, number] {
  return [1, 3, 5].map((i) => Number.parseInt(color.slice(i, i + 2), 16)) as [number, number, number];
}

/** Pixels of exactly this opaque colour: where a line is drawn fully, not anti-aliased edges. */
function pixelsOf(image: Image, color: string): { x: number; y: number }[] {
  const [r, g, b] = hex(color);
  const found: { x: number; y: number }[] = [];
  for (let i = 0; i < image.pixels.length; i += 4) {
    if (
      image.pixels[i] === r &&
      image.pixels[i + 1] === g &&
      image.pixels[i + 2] === b &&
      image.pixels[i + 3] === 255
    ) {
      found.push({ x: (i / 4) % image.width, y: Math.floor(i / 4 / image.width) });
    }
  }
  return found;
}

function distinctColors(image: Image): number {
  const seen = new Set<number>();
  for (let i = 0; i < image.pixels.length; i += 4) {
    seen.add(((image.pixels[i] ?? 0) << 16) | ((image.pixels[i + 1] ?? 0) << 8) | (image.pixels[i + 2] ?? 0));
  }
  return seen.size;
}

function flat(labels: Record<string, string>, value: number): ChartSeries {
  const points: [number, number][] = [];
  for (let t = START; t <= END; t += 60) points.push([t, value]);
  return { labels, points };
}

describe('Graph render: golden PNG checks', () => {
  let prometheus: FakePrometheus;

  beforeAll(async () => {
    prometheus = await startFakePrometheus({ series: { [LATENCY_QUERY]: LATENCY_SERIES } });
  });

  afterAll(async () => {
    await prometheus.close();
  });

  it('should render a 1000x360 RGBA PNG of the alert with every series, the marker and text', async () => {
    // Act
    const graph = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: prometheus.url, timeoutSeconds: 60 },
      noSecrets,
    );

    // Assess
    if (!('png' in graph)) throw new Error(`graph skipped: ${graph.skipped}`);
    expect([...graph.png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(ihdr(graph.png)).toEqual({ width: CHART_WIDTH, height: CHART_HEIGHT, bitDepth: 8, colorType: 6 });
    const image = decodePng(graph.png);
    expect(distinctColors(image)).toBeGreaterThan(50);
    for (const color of SERIES_COLORS.slice(0, 4)) expect(pixelsOf(image, color).length).toBeGreaterThan(100);
    for (const color of SERIES_COLORS.slice(4)) expect(pixelsOf(image, color)).toHaveLength(0);
    expect(pixelsOf(image, ALERT_COLOR).length).toBeGreaterThan(50);
  });

  it('should draw text with the bundled font (Lambda has no system fonts)', async () => {
    // Prepare
    const svg = chartSvg({ title: 'TitleOnly', series: [flat({}, 1)], start: START, end: END, step: 60 });

    // Act
    const image = await svgToPixels(svg);

    // Assess
    let dark = 0;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 200; x++) {
        const i = (y * image.width + x) * 4;
        if ((image.pixels[i] ?? 255) < 100) dark++;
      }
    }
    expect(dark).toBeGreaterThan(50);
  });

  it('should draw each series at its value: a higher value higher up, all inside the plot', async () => {
    // Prepare
    const series = SERIES_COLORS.map((_, i) => flat({ pod: `web-${i}` }, (i + 1) * 10));

    // Act
    const image = await svgToPixels(chartSvg({ title: 'Levels', series, start: START, end: END, step: 60 }));

    // Assess
    // pickSeries orders by peak: the first colour is the highest series (80), the last the lowest (10).
    const rows = SERIES_COLORS.map((color) => {
      const found = pixelsOf(image, color).filter(({ x }) => x > 100 && x < 700);
      expect(found.length).toBeGreaterThan(300);
      return found.reduce((sum, { y }) => sum + y, 0) / found.length;
    });
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    expect(Math.min(...rows)).toBeGreaterThan(40);
    expect(Math.max(...rows)).toBeLessThan(CHART_HEIGHT - 30);
  });

  it('should give the same PNG as docs/example-chart.png for the example data (run `node test/support/graph-data.ts` after changing the chart)', async () => {
    // Prepare
    const committed = await readFile(new URL('../../../../docs/example-chart.png', import.meta.url));

    // Act
    const graph = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: prometheus.url, timeoutSeconds: 60 },
      noSecrets,
    );

    // Assess
    if (!('png' in graph)) throw new Error(`graph skipped: ${graph.skipped}`);
    expect(ihdr(committed)).toMatchObject({ width: CHART_WIDTH, height: CHART_HEIGHT });
    expect(Buffer.from(graph.png).equals(committed)).toBe(true);
  });

  it('should render SVG to PNG and to pixels of the same size', async () => {
    // Prepare
    const svg = chartSvg({ title: 'Same', series: [flat({ a: 'b' }, 2)], start: START, end: END, step: 60 });

    // Act
    const [png, pixels] = await Promise.all([svgToPng(svg), svgToPixels(svg)]);

    // Assess
    expect(decodePng(png)).toEqual(pixels);
  });
});

describe('Graph render: assets', () => {
  it('should find the wasm and the font in node_modules when run from source', async () => {
    // Act
    const [wasm, font] = await Promise.all([readGraphAsset('wasm'), readGraphAsset('font')]);

    // Assess
    expect([...wasm.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
    expect([...font.subarray(0, 4)]).toEqual([0x00, 0x01, 0x00, 0x00]);
  });

  it('should look beside the bundle and one folder up (lazy chunks) before node_modules', () => {
    // Act
    const candidates = assetCandidates(
      'font',
      'file:///var/task/.build/functions/slack/chunks/graph-ABC.mjs',
    );

    // Assess
    expect(candidates).toEqual([
      '/var/task/.build/functions/slack/chunks/graph-assets/DejaVuSans.ttf',
      '/var/task/.build/functions/slack/graph-assets/DejaVuSans.ttf',
    ]);
  });

  it('should say where it looked when an asset is missing', async () => {
    // Act
    const error = await readGraphAsset('wasm', 'file:///nonexistent/bundle/index.mjs').catch((e: Error) => e);

    // Assess
    expect(String(error)).toContain(
      'graph asset resvg.wasm not found (looked in /nonexistent/bundle/graph-assets/resvg.wasm, /nonexistent/graph-assets/resvg.wasm)',
    );
  });
});
