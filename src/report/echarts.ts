/**
 * ECharts with the charts and components advx draws (tree-shaken: `echarts/core` plus these), for
 * the reports' SVG and the lab's live charts. Kept apart from charts.ts so that no declaration
 * advx publishes names an ECharts type.
 */
import * as core from 'echarts/core';
import { BarChart, CustomChart, LineChart, ScatterChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

/**
 * Registered as part of the export's value, not as a statement beside it: advx is
 * `"sideEffects": false`, so a bundler keeps only what an import needs, and a lone `use(…)` call
 * was dropped from the lab ("QN[a] is not a constructor": no SVG renderer).
 */
export const echarts: typeof core = (core.use([LineChart, ScatterChart, BarChart, CustomChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, DataZoomComponent, MarkAreaComponent, SVGRenderer]), core);
