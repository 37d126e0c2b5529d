/**
 * ECharts with the charts and components advx draws (tree-shaken: `echarts/core` plus these), for
 * the reports' SVG and the lab's live charts. Kept apart from charts.ts so that no declaration
 * advx publishes names an ECharts type.
 *
 * Each installer is imported from its own module, not from the `echarts/charts` and
 * `echarts/components` indexes: Node has no tree-shaking, and the indexes load every chart and
 * component ECharts has (690 modules against 390; 0.3 s of each process that draws a chart).
 */
import * as core from 'echarts/core';
import { install as BarChart } from 'echarts/lib/chart/bar/install.js';
import { install as CustomChart } from 'echarts/lib/chart/custom/install.js';
import { install as LineChart } from 'echarts/lib/chart/line/install.js';
import { install as ScatterChart } from 'echarts/lib/chart/scatter/install.js';
import { install as DataZoomComponent } from 'echarts/lib/component/dataZoom/install.js';
import { install as GridComponent } from 'echarts/lib/component/grid/install.js';
import { install as LegendComponent } from 'echarts/lib/component/legend/install.js';
import { install as MarkAreaComponent } from 'echarts/lib/component/marker/installMarkArea.js';
import { install as TitleComponent } from 'echarts/lib/component/title/install.js';
import { install as TooltipComponent } from 'echarts/lib/component/tooltip/install.js';
import { install as SVGRenderer } from 'echarts/lib/renderer/installSVGRenderer.js';

/**
 * Registered as part of the export's value, not as a statement beside it: advx is
 * `"sideEffects": false`, so a bundler keeps only what an import needs, and a lone `use(…)` call
 * was dropped from the lab ("QN[a] is not a constructor": no SVG renderer).
 */
export const echarts: typeof core = (core.use([LineChart, ScatterChart, BarChart, CustomChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, DataZoomComponent, MarkAreaComponent, SVGRenderer]), core);
