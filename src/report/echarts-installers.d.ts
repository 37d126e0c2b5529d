/**
 * ECharts' per-chart and per-component installers (echarts/lib/…/install*.js), which ship without
 * declarations of their own: each exports `install`, what `use` takes.
 */
declare module 'echarts/lib/*.js' {
  import type { use } from 'echarts/core';
  export const install: Exclude<Parameters<typeof use>[0], readonly unknown[]>;
}
