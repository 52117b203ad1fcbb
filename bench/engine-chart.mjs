#!/usr/bin/env node
// The chart of bench/engine.mjs's results: a Vega-Lite spec, rendered to SVG by Vega (no canvas,
// no browser) and rasterised by resvg (@resvg/resvg-js: a prebuilt binary shipped as an npm
// package, so it installs from the npm registry alone, with no build step and no download).
//
//   node bench/engine-chart.mjs [bench/results/engine.json] [bench/results/engine.png]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

const ENGINES = ['Gantry', 'dockerd'];
const COLORS = ['#2f7ed8', '#8c8c8c'];

/** One small panel per measurement, two bars each (independent y scales: 50 ms and 5 s side by side). */
function panels(title, unit, data) {
  return {
    title,
    data: { values: data },
    // wrapped facets, in the order the bench measured them
    facet: { field: 'what', type: 'nominal', title: null, sort: [...new Set(data.map((d) => d.what))], header: { labelFontSize: 11, labelLimit: 170 } },
    columns: 4,
    spec: {
      width: 90,
      height: 140,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'engine', type: 'nominal', sort: ENGINES, axis: null },
            y: { field: 'value', type: 'quantitative', title: unit },
            color: { field: 'engine', type: 'nominal', sort: ENGINES, scale: { domain: ENGINES, range: COLORS }, title: null },
          },
        },
        {
          mark: { type: 'text', dy: -6, fontSize: 10 },
          encoding: {
            x: { field: 'engine', type: 'nominal', sort: ENGINES },
            y: { field: 'value', type: 'quantitative' },
            text: { field: 'label' },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

const fmt = (v) => (v >= 100 ? String(Math.round(v)) : v.toFixed(1));

/** The Vega-Lite spec for an engine.json: times per operation, then memory. */
export function chartSpec(results) {
  const time = [];
  for (const r of results.rows) {
    time.push({ what: r.case, engine: 'Gantry', value: r.gantryd_ms, label: fmt(r.gantryd_ms) });
    if (r.dockerd_ms !== null) time.push({ what: r.case, engine: 'dockerd', value: r.dockerd_ms, label: fmt(r.dockerd_ms) });
  }
  const mem = [];
  for (const r of results.memory?.rows ?? []) {
    mem.push({ what: r.what, engine: 'Gantry', value: r.gantryd_mib, label: fmt(r.gantryd_mib) });
    if (r.dockerd_mib !== null) mem.push({ what: r.what, engine: 'dockerd', value: r.dockerd_mib, label: fmt(r.dockerd_mib) });
  }
  const avg = (l) => l.map((x) => x.toFixed(1)).join(' ');
  const load = results.loadavg
    ? `, load average (1, 5, 15 min) ${avg(results.loadavg)} at start${results.loadavgEnd ? `, ${avg(results.loadavgEnd)} at end` : ''}, ${results.cpus} CPUs`
    : '';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Gantry vs dockerd (docker CLI, medians)', subtitle: `${results.date.slice(0, 10)}${load}` },
    config: { font: 'DejaVu Sans', background: 'white', legend: { orient: 'top' } },
    vconcat: [
      panels('Time per operation', 'ms', time),
      ...(mem.length ? [panels(`Memory (PSS) with ${results.memory.containers} idle containers`, 'MiB', mem)] : []),
    ],
  };
}

/** Renders an engine.json's chart to a PNG file. */
export async function writeChart(results, pngPath) {
  const { spec } = vegaLite.compile(chartSpec(results));
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  writeFileSync(pngPath, png);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const json = resolve(process.argv[2] ?? join(repo, 'bench', 'results', 'engine.json'));
  const png = resolve(process.argv[3] ?? json.replace(/\.json$/, '') + '.png');
  writeChart(JSON.parse(readFileSync(json, 'utf8')), png).then(
    () => console.log(`wrote ${png}`),
    (e) => {
      console.error(e.stack ?? String(e));
      process.exit(1);
    },
  );
}
