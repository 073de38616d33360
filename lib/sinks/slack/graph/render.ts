import { initWasm, Resvg } from '@resvg/resvg-wasm';
import { readGraphAsset } from './assets.ts';

/**
 * SVG -> PNG with resvg compiled to wasm: no native binary, so the same bundle runs on any
 * Lambda architecture. The wasm is instantiated once per process (resvg-wasm refuses a
 * second initWasm) and the font is passed explicitly because Lambda has no system fonts.
 */

let ready: Promise<Uint8Array> | undefined;

/** Loads the wasm and the font once; a failure is not cached, so the next call tries again. */
export function prepareRenderer(): Promise<Uint8Array> {
  ready ??= (async () => {
    const [wasm, font] = await Promise.all([readGraphAsset('wasm'), readGraphAsset('font')]);
    await initWasm(wasm);
    return font;
  })().catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/** The RGBA pixels of a rendered SVG (what the PNG holds), for checks that look at the picture. */
export interface RenderedPixels {
  width: number;
  height: number;
  /** width x height x 4 bytes, RGBA, row by row. */
  pixels: Uint8Array;
}

export async function svgToPng(svg: string): Promise<Uint8Array> {
  return withRendered(svg, (image) => image.asPng());
}

export async function svgToPixels(svg: string): Promise<RenderedPixels> {
  return withRendered(svg, (image) => ({ width: image.width, height: image.height, pixels: image.pixels }));
}

async function withRendered<T>(
  svg: string,
  read: (image: ReturnType<InstanceType<typeof Resvg>['render']>) => T,
): Promise<T> {
  const font = await prepareRenderer();
  const resvg = new Resvg(svg, {
    font: { fontBuffers: [font], defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    fitTo: { mode: 'original' },
    background: '#ffffff',
  });
  try {
    const image = resvg.render();
    try {
      return read(image);
    } finally {
      // wasm memory is not garbage collected: a warm Lambda renders many charts.
      image.free();
    }
  } finally {
    resvg.free();
  }
}
