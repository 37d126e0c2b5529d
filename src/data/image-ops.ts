/**
 * Fitting one decoded image to a model's input: channel count, center crop, bilinear resize.
 * Plain JS on [0, 1] floats, channels last, no Node API (the lab can use the same code).
 */

export interface Pixels {
  /** height*width*channels values, row-major, channels last. */
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/** ITU-R BT.601 luma weights, the ones PIL's convert('L') and TF's rgb_to_grayscale use. */
export const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * The image with `channels` channels (1 or 3): RGB becomes grey by luminance, grey becomes RGB by
 * repetition; a 4th (alpha) channel is dropped, as the models take no transparency.
 */
export function toChannels(img: Pixels, channels: number): Pixels {
  const { height, width, channels: c } = img;
  const n = height * width;
  const out = new Float32Array(n * channels);
  for (let p = 0; p < n; p++) {
    const s = p * c;
    if (channels === 1) {
      const [r, g, b] = c >= 3 ? [img.data[s], img.data[s + 1], img.data[s + 2]] : [img.data[s], img.data[s], img.data[s]];
      // A grey pixel stays exactly itself: 0.299v + 0.587v + 0.114v need not round back to v.
      out[p] = r === g && g === b ? r : LUMA[0] * r + LUMA[1] * g + LUMA[2] * b;
    } else {
      for (let k = 0; k < channels; k++) out[p * channels + k] = c >= 3 ? img.data[s + Math.min(k, 2)] : img.data[s];
    }
  }
  return { data: out, height, width, channels };
}

/** The largest centered box of the image with the aspect ratio width:height. */
export function centerCropBox(srcH: number, srcW: number, height: number, width: number): { top: number; left: number; h: number; w: number } {
  if (srcW * height > width * srcH) {
    const w = Math.max(1, Math.round((srcH * width) / height));
    return { top: 0, left: Math.floor((srcW - w) / 2), h: srcH, w };
  }
  const h = Math.max(1, Math.round((srcW * height) / width));
  return { top: Math.floor((srcH - h) / 2), left: 0, h, w: srcW };
}

/**
 * Bilinear resize of the box `crop` (default: the whole image) to height×width, with half-pixel
 * centers (TF's resize_bilinear with half_pixel_centers, OpenCV's INTER_LINEAR): a source pixel
 * covers [i, i+1), so an image resized to its own size is returned unchanged. No antialiasing.
 */
export function resizeBilinear(img: Pixels, height: number, width: number, crop = { top: 0, left: 0, h: img.height, w: img.width }): Pixels {
  const c = img.channels;
  const out = new Float32Array(height * width * c);
  const ys = axis(height, crop.h, crop.top);
  const xs = axis(width, crop.w, crop.left);
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = ys[y];
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = xs[x];
      for (let k = 0; k < c; k++) {
        const at = (yy: number, xx: number) => img.data[(yy * img.width + xx) * c + k];
        const top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx;
        const bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx;
        out[(y * width + x) * c + k] = top + (bottom - top) * fy;
      }
    }
  }
  return { data: out, height, width, channels: c };
}

/** For each output index along one axis: the two source indices and the weight of the second. */
function axis(outSize: number, inSize: number, offset: number): [number, number, number][] {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, i) => {
    const s = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), inSize - 1);
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [offset + i0, offset + i1, s - i0];
  });
}

/** The image as the model takes it: channels converted, center-cropped to its aspect ratio, resized. */
export function fitImage(img: Pixels, height: number, width: number, channels: number): Float32Array {
  const converted = toChannels(img, channels);
  if (img.height === height && img.width === width) return converted.data;
  return resizeBilinear(converted, height, width, centerCropBox(img.height, img.width, height, width)).data;
}
