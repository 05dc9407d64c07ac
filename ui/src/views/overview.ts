import { html, svg, type TemplateResult, type SVGTemplateResult } from "lit";
import type { App } from "../app";
import { plural } from "./common";
import { FLOW_STATUSES, flowEdges, isLive, liveStatus, type FlowEdge, type FlowStatus } from "../model";

const FLOW_WORDS: Record<FlowStatus, string> = {
  active: "active",
  expiring: "expiring within a day",
  ended: "ended",
  ordered: "deletion ordered",
  acknowledged: "deletion confirmed",
};

// The picture's coordinate system; it scales to the width available. On a phone a narrower one keeps
// the text at a readable size instead of shrinking the whole drawing.
const NODE_H = 40;
const ROW = 54;
const PAD = 8;
const geometry = () =>
  window.matchMedia("(max-width: 600px)").matches ? { W: 360, NODE_W: 140, chars: 16, narrow: true } : { W: 640, NODE_W: 200, chars: 22, narrow: false };

/** Line weight grows with the log of the number of reads, so one busy flow does not drown the others. */
const strokeWidth = (releases: number) => (releases === 0 ? 2 : Math.min(16, 3 + 2.5 * Math.log2(1 + releases)));

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function overviewView(app: App): TemplateResult {
  const snap = app.state.snapshot!;
  const now = app.now();
  const edges = flowEdges(snap.grants, snap.orders, snap.entries, (id) => app.dataExpiry(id), now);
  const reads = snap.entries.filter((e) => e.kind === "release").length;
  const live = snap.grants.filter((g) => isLive(liveStatus(g, app.dataExpiry(g.category), now)));
  const pendingOrders = snap.orders.filter((o) => o.status !== "acknowledged").length;
  const confirmed = snap.orders.length - pendingOrders;
  const services = new Set(live.map((g) => g.grantee)).size;
  return html`
    <div class="panel-head">
      <h2>Where my data flows</h2>
      <p class="lead">From each category of your data to the services allowed to use it. Thicker lines mean more reads; the colour says where each flow stands.</p>
    </div>
    <ul class="stats" aria-label="Summary">
      <li><strong>${snap.records.length}</strong> ${plural(snap.records.length, "category", "categories")} held</li>
      <li><strong>${live.length}</strong> active ${plural(live.length, "grant")} to <strong>${services}</strong> ${plural(services, "service")}</li>
      <li><strong>${reads}</strong> ${plural(reads, "read")} logged</li>
      <li><strong>${confirmed}</strong> of <strong>${snap.orders.length}</strong> deletion ${plural(snap.orders.length, "order")} confirmed</li>
    </ul>
    ${edges.length === 0 && snap.records.length === 0
      ? html`<p class="empty">Nothing flows yet: the platform holds no data for you and you have granted nothing.</p>`
      : html`<figure class="flows">
          ${picture(app, edges)}
          <figcaption>
            <ul class="legend" aria-label="Legend">
              ${FLOW_STATUSES.map((s) => html`<li><span class=${`swatch flow-${s}`} aria-hidden="true"></span>${FLOW_WORDS[s]}</li>`)}
            </ul>
          </figcaption>
        </figure>
        <h3 class="visually-hidden">The flows in words</h3>
        <ul class="plain flow-list">
          ${edges.map(
            (e) => html`<li class=${`flow-item flow-item-${e.status}`}>
              <span class=${`swatch flow-${e.status}`} aria-hidden="true"></span>
              ${app.categoryTitle(e.category)} → ${app.serviceName(e.service) ?? e.service}: ${FLOW_WORDS[e.status]}, ${e.releases} ${plural(e.releases, "read")}
            </li>`,
          )}
        </ul>`}
  `;
}

function picture(app: App, edges: FlowEdge[]): TemplateResult {
  const snap = app.state.snapshot!;
  const categories = [...new Set([...snap.records.map((r) => r.categoryId.toLowerCase()), ...edges.map((e) => e.category)])].sort((a, b) =>
    app.categoryTitle(a).localeCompare(app.categoryTitle(b)),
  );
  const services = [...new Set(edges.map((e) => e.service))].sort((a, b) => (app.serviceName(a) ?? a).localeCompare(app.serviceName(b) ?? b));
  const { W, NODE_W, chars, narrow } = geometry();
  const rows = Math.max(categories.length, services.length, 1);
  const height = rows * ROW + PAD * 2;
  const yOf = (i: number, n: number) => PAD + (rows - n) * (ROW / 2) + i * ROW + (ROW - NODE_H) / 2;
  const catY = new Map(categories.map((c, i) => [c, yOf(i, categories.length) + NODE_H / 2]));
  const svcY = new Map(services.map((s, i) => [s, yOf(i, services.length) + NODE_H / 2]));
  const x1 = PAD + NODE_W;
  const x2 = W - PAD - NODE_W;
  const mid = (x1 + x2) / 2;
  // Thin lines on top of thick ones, so that none hides another.
  const ordered = [...edges].sort((a, b) => b.releases - a.releases);
  const label = `Flows from ${categories.length} categories of your data to ${services.length} services`;
  return html`<svg viewBox=${`0 0 ${W} ${height}`} role="img" aria-label=${label} class=${narrow ? "flow-svg narrow" : "flow-svg"} preserveAspectRatio="xMidYMin meet">
    ${ordered.map((e) => {
      const y1 = catY.get(e.category)!;
      const y2 = svcY.get(e.service)!;
      const who = app.serviceName(e.service) ?? e.service;
      return svg`<path class=${`flow flow-${e.status}`} d=${`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`} stroke-width=${strokeWidth(e.releases)}>
        <title>${app.categoryTitle(e.category)} → ${who}: ${FLOW_WORDS[e.status]}, ${e.releases} reads, ${e.grants} ${plural(e.grants, "grant")}</title>
      </path>`;
    })}
    ${categories.map((c) => node(PAD, catY.get(c)! - NODE_H / 2, NODE_W, chars, app.categoryTitle(c), app.categoryLabel(c), "category"))}
    ${services.map((s) => node(x2, svcY.get(s)! - NODE_H / 2, NODE_W, chars, app.serviceName(s) ?? `${s.slice(0, 10)}…`, `${s.slice(0, 8)}…${s.slice(-4)}`, "service"))}
  </svg>`;
}

function node(x: number, y: number, width: number, chars: number, title: string, sub: string, kind: "category" | "service"): SVGTemplateResult {
  const textX = x + 10;
  return svg`<g class=${`node node-${kind}`}>
    <title>${title} (${sub})</title>
    <rect x=${x} y=${y} width=${width} height=${NODE_H} rx="8" />
    <text x=${textX} y=${y + 17} class="node-title">${clip(title, chars)}</text>
    <text x=${textX} y=${y + 32} class="node-sub">${clip(sub, chars + 6)}</text>
  </g>`;
}
