/**
 * ECharts with the charts and components advx draws (tree-shaken: `echarts/core` plus these), for
 * the reports' SVG and the lab's live charts. Kept apart from charts.ts so that no declaration
 * advx publishes names an ECharts type.
 */
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, LineChart, ScatterChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([LineChart, ScatterChart, BarChart, CustomChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, DataZoomComponent, MarkAreaComponent, SVGRenderer]);

export { echarts };
