/** Renders advx's SVG charts to PNG with resvg and the DejaVu Sans font, both optional npm packages. */
import type * as ResvgJs from '@resvg/resvg-js';
import { join } from 'node:path';
import { isInstalled, loadPackage, packageDir } from './packages.ts';

const PURPOSE = 'drawing charts as PNG';
const PACKAGES = ['@resvg/resvg-js', 'dejavu-fonts-ttf'];

/** Whether svgToPng can run here (its packages are optional: a run without them writes the SVG only). */
export function canRenderPng(): boolean {
  return PACKAGES.every(isInstalled);
}

export function svgToPng(svg: string, scale = 2): Buffer {
  const { Resvg } = loadPackage<typeof ResvgJs>('@resvg/resvg-js', PURPOSE);
  const font = join(packageDir('dejavu-fonts-ttf', PURPOSE), 'ttf', 'DejaVuSans.ttf');
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { fontFiles: [font], loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
  });
  return Buffer.from(r.render().asPng());
}
