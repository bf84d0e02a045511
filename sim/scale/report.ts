/**
 * The HTML report of scale runs: one self-contained file (d3's minified bundle inlined, the results
 * embedded as JSON) with three charts — the hop histogram per topology, mean hops versus N on a log
 * axis with the CAN formula (d/4)·N^(1/d) and the Moore bound for the degree used, and delivery
 * under churn before and after repair.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dimensions } from '../../src/id/geometry.js';
import type { ScaleResult } from './run.js';

/** Hops CAN's greedy routing needs on average with 2·d face neighbours: (d/4)·N^(1/d). */
export function canFormulaHops(peers: number, d = dimensions): number {
  return (d / 4) * peers ** (1 / d);
}

/**
 * The Moore bound on the mean distance: in a graph of degree `degree`, at most degree·(degree−1)^(h−1)
 * peers lie h hops away, so filling the N−1 others from the nearest shell outwards gives the least
 * possible mean hops of any routing.
 */
export function mooreBoundHops(peers: number, degree: number): number {
  let remaining = peers - 1;
  let shell = degree;
  let h = 1;
  let sum = 0;
  while (remaining > 0) {
    const here = Math.min(shell, remaining);
    sum += here * h;
    remaining -= here;
    shell *= Math.max(1, degree - 1);
    h++;
  }
  return peers > 1 ? sum / (peers - 1) : 0;
}

/** Finds node_modules/d3/dist/d3.min.js above this file; null when d3 is not installed. */
function d3Bundle(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'node_modules', 'd3', 'dist', 'd3.min.js');
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Self-contained HTML for a set of results (any mix of topologies, sizes and churn). */
export function renderReport(results: readonly ScaleResult[]): string {
  const sizes = [...new Set(results.map((r) => r.peers))].sort((a, b) => a - b);
  const lo = Math.max(100, Math.min(...sizes) / 10);
  const hi = Math.max(1e8, Math.max(...sizes));
  const formula: { n: number; can: number; moore: number }[] = [];
  const degree = Math.round(results.find((r) => r.topology === '8d')?.neighborsMean ?? 13);
  for (let n = lo; n <= hi * 1.001; n *= 10 ** 0.25) {
    formula.push({ n, can: canFormulaHops(n), moore: mooreBoundHops(n, degree) });
  }
  const data = {
    results: results.map((r) => ({
      topology: r.topology,
      peers: r.peers,
      hopsMean: r.hopsMean,
      hopsP99: r.hopsP99,
      deliveredRatio: r.deliveredRatio,
      statePerPeer: r.statePerPeer,
      histogram: r.routing.hopHistogram,
      churn:
        r.churn === null
          ? null
          : {
              share: r.churn.removedShare,
              before: r.churn.beforeRepair.deliveredRatio,
              after: r.churn.afterRepair.deliveredRatio,
            },
    })),
    formula,
    degree,
  };
  const d3 = d3Bundle();
  const json = JSON.stringify(data).replaceAll('<', '\\u003c');
  const rows = results
    .map(
      (r) =>
        `<tr><td>${r.topology}</td><td>${r.peers.toLocaleString('en-US')}</td><td>${r.statePerPeer.toFixed(1)}</td>` +
        `<td>${(r.deliveredRatio * 100).toFixed(3)}</td><td>${r.hopsMean.toFixed(2)}</td><td>${r.hopsP99}</td>` +
        `<td>${r.deadEnds}</td><td>${r.stretchMean.toFixed(2)}</td><td>${r.buildSeconds.toFixed(1)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DRP routing at scale</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;max-width:1000px}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}
.chart{margin:16px 0}.axis text{font-size:11px}.legend{font-size:12px}
</style></head><body>
<h1>DRP routing at scale</h1>
<p>Seed ${results[0]?.seed ?? ''}. Greedy INVITE routing on sampled pairs; hops include backtracking steps.</p>
<table><tr><th>topology</th><th>peers</th><th>state/peer</th><th>delivered %</th><th>hops mean</th><th>p99</th><th>dead ends</th><th>stretch</th><th>build s</th></tr>
${rows}
</table>
<h2>Hop histogram per topology</h2><div id="hist" class="chart"></div>
<h2>Mean hops versus N</h2><p>Lines: CAN formula (d/4)·N^(1/d), d = 8; Moore bound for degree ${degree}.</p><div id="scaling" class="chart"></div>
<h2>Delivery under churn</h2><div id="churn" class="chart"></div>
<script>${d3 ?? 'window.d3=undefined;'}</script>
<script id="data" type="application/json">${json}</script>
<script>
(function(){
const data=JSON.parse(document.getElementById('data').textContent);
if(typeof d3==='undefined'){document.body.insertAdjacentHTML('beforeend','<p>d3 is not installed: charts omitted.</p>');return;}
const color=d3.scaleOrdinal(d3.schemeCategory10);
const W=900,H=320,M={t:20,r:160,b:40,l:60};
function frame(id){const svg=d3.select('#'+id).append('svg').attr('width',W).attr('height',H);return svg.append('g').attr('transform','translate('+M.l+','+M.t+')');}
const iw=W-M.l-M.r,ih=H-M.t-M.b;
// Histogram: share of delivered routes per hop count, one line per run.
{const g=frame('hist');const series=data.results.map(r=>{const tot=r.histogram.reduce((a,b)=>a+b,0)||1;return {key:r.topology+' '+r.peers.toLocaleString('en-US'),pts:r.histogram.map((c,h)=>({h,v:c/tot}))};});
const maxH=d3.max(series,s=>s.pts.length)||1;const x=d3.scaleLinear().domain([0,maxH]).range([0,iw]);const y=d3.scaleLinear().domain([0,d3.max(series,s=>d3.max(s.pts,p=>p.v))||1]).range([ih,0]);
g.append('g').attr('class','axis').attr('transform','translate(0,'+ih+')').call(d3.axisBottom(x));g.append('g').attr('class','axis').call(d3.axisLeft(y).tickFormat(d3.format('.0%')));
series.forEach((s,i)=>{g.append('path').datum(s.pts).attr('fill','none').attr('stroke',color(s.key)).attr('stroke-width',1.5).attr('d',d3.line().x(p=>x(p.h)).y(p=>y(p.v)));g.append('text').attr('class','legend').attr('x',iw+8).attr('y',12+i*14).attr('fill',color(s.key)).text(s.key);});
g.append('text').attr('x',iw/2).attr('y',ih+34).text('hops');}
// Scaling: mean hops vs N, log x, with formula lines.
{const g=frame('scaling');const x=d3.scaleLog().domain(d3.extent(data.formula,f=>f.n)).range([0,iw]);const maxY=Math.max(d3.max(data.formula,f=>f.can),d3.max(data.results,r=>r.hopsMean)||1);const y=d3.scaleLinear().domain([0,maxY]).range([ih,0]);
g.append('g').attr('class','axis').attr('transform','translate(0,'+ih+')').call(d3.axisBottom(x).ticks(6,'.0e'));g.append('g').attr('class','axis').call(d3.axisLeft(y));
[['can','CAN formula','#999','4 3'],['moore','Moore bound','#555','1 3']].forEach(([k,label,c,dash],i)=>{g.append('path').datum(data.formula).attr('fill','none').attr('stroke',c).attr('stroke-dasharray',dash).attr('d',d3.line().x(f=>x(f.n)).y(f=>y(f[k])));g.append('text').attr('class','legend').attr('x',iw+8).attr('y',12+i*14).attr('fill',c).text(label);});
const byTopo=d3.group(data.results,r=>r.topology);let i=2;for(const [t,rs] of byTopo){const pts=rs.slice().sort((a,b)=>a.peers-b.peers);g.append('path').datum(pts).attr('fill','none').attr('stroke',color(t)).attr('d',d3.line().x(r=>x(r.peers)).y(r=>y(r.hopsMean)));g.selectAll(null).data(pts).enter().append('circle').attr('r',3.5).attr('fill',color(t)).attr('cx',r=>x(r.peers)).attr('cy',r=>y(r.hopsMean));g.append('text').attr('class','legend').attr('x',iw+8).attr('y',12+(i++)*14).attr('fill',color(t)).text(t);}
g.append('text').attr('x',iw/2).attr('y',ih+34).text('peers (log)');}
// Churn: delivered before and after repair.
{const rows=data.results.filter(r=>r.churn!==null);if(rows.length===0){d3.select('#churn').append('p').text('No churn phase in these runs (use --churn 0.1).');}else{const g=frame('churn');const keys=rows.map(r=>r.topology+' '+r.peers.toLocaleString('en-US')+' −'+(r.churn.share*100).toFixed(0)+'%');const x0=d3.scaleBand().domain(keys).range([0,iw]).padding(0.3);const x1=d3.scaleBand().domain(['before repair','after repair']).range([0,x0.bandwidth()]).padding(0.1);const lo=Math.min(0.9,d3.min(rows,r=>r.churn.before));const y=d3.scaleLinear().domain([lo,1]).range([ih,0]);
g.append('g').attr('class','axis').attr('transform','translate(0,'+ih+')').call(d3.axisBottom(x0));g.append('g').attr('class','axis').call(d3.axisLeft(y).tickFormat(d3.format('.1%')));
rows.forEach((r,i)=>{[['before repair',r.churn.before,'#d62728'],['after repair',r.churn.after,'#2ca02c']].forEach(([k,v,c])=>{g.append('rect').attr('x',x0(keys[i])+x1(k)).attr('width',x1.bandwidth()).attr('y',y(v)).attr('height',ih-y(v)).attr('fill',c);});});
[['before repair','#d62728'],['after repair','#2ca02c']].forEach(([k,c],i)=>g.append('text').attr('class','legend').attr('x',iw+8).attr('y',12+i*14).attr('fill',c).text(k));}}
})();
</script></body></html>
`;
}
