/** Drawing images on canvases: grey levels or RGB, and perturbations in a diverging colour map. */

/** Paints a w×h image of values in [lo, hi] as grey levels onto `canvas` (sized w×h, CSS scales it). */
export function drawGrey(canvas: HTMLCanvasElement, values: ArrayLike<number>, w = 28, h = 28, bounds: [number, number] = [0, 1]): void {
  drawImage(canvas, values, w, h, 1, bounds);
}

/** Paints a w×h image with 1 (grey) or 3 (RGB) channels, channels last, of values in [lo, hi]. */
export function drawImage(canvas: HTMLCanvasElement, values: ArrayLike<number>, w: number, h: number, channels: number, bounds: [number, number] = [0, 1]): void {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  const [lo, hi] = bounds;
  const byte = (v: number) => Math.round(Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 255);
  for (let i = 0; i < w * h; i++) {
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = byte(values[i * channels + (channels === 1 ? 0 : k)]);
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Blue (negative) – white (0) – red (positive), for t in [-1, 1]; ColorBrewer RdBu end points. */
export function diverging(t: number): [number, number, number] {
  const c = Math.max(-1, Math.min(1, t));
  const [end, white] = [c < 0 ? [33, 102, 172] : [178, 24, 43], [247, 247, 247]];
  const a = Math.abs(c);
  return [0, 1, 2].map((k) => Math.round(white[k] + (end[k] - white[k]) * a)) as [number, number, number];
}

/**
 * Paints δ = adv − x (per pixel, its largest channel), amplified so that the largest |δ| reaches the colour map's ends; returns
 * that largest |δ| (the amplification is 1/max).
 */
export function drawPerturbation(canvas: HTMLCanvasElement, x: ArrayLike<number>, adv: ArrayLike<number>, w = 28, h = 28, channels = 1): number {
  canvas.width = w;
  canvas.height = h;
  // Per pixel, the channel that moved most (signed): an RGB perturbation in one colour map.
  const delta = new Float32Array(w * h);
  let max = 0;
  for (let i = 0; i < w * h; i++) {
    for (let k = 0; k < channels; k++) {
      const d = adv[i * channels + k] - x[i * channels + k];
      if (Math.abs(d) > Math.abs(delta[i])) delta[i] = d;
    }
    max = Math.max(max, Math.abs(delta[i]));
  }
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = diverging(max > 0 ? delta[i] / max : 0);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return max;
}
