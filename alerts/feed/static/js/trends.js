// Trend of warnings per category from /api/trends: one small bar chart per category (inline
// SVG), busiest category first, each with its own scale and its total.

import { h, s } from "./dom.js";

const W = 240;
const H = 64;

const dayLabel = new Intl.DateTimeFormat("zh-CN", { month: "numeric", day: "numeric" });
const hourLabel = new Intl.DateTimeFormat("zh-CN", { month: "numeric", day: "numeric", hour: "2-digit", hour12: false });

function chart(points, bucket) {
  const max = Math.max(1, ...points.map((p) => p.count));
  const step = W / Math.max(points.length, 1);
  const format = bucket === "hour" ? hourLabel : dayLabel;
  const bars = points.map((point, i) => {
    const height = (point.count / max) * (H - 4);
    return s(
      "rect",
      { x: (i * step + step * 0.1).toFixed(1), y: (H - height).toFixed(1), width: Math.max(step * 0.8, 0.5).toFixed(1), height: height.toFixed(1), class: "trend-bar" },
      s("title", {}, `${format.format(new Date(point.t))}：${point.count} 条`),
    );
  });
  return s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "trend-svg", role: "img" }, s("line", { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: "trend-axis" }), bars);
}

export class TrendCharts {
  constructor(container, categoryNames) {
    this.container = container;
    this.categoryNames = categoryNames; // Map code -> Chinese name, learned from warnings
    this.trends = null;
    this.namesKnown = 0;
  }

  /** Redraw when warnings taught us category names the charts do not show yet. */
  namesChanged() {
    if (this.trends && this.categoryNames.size !== this.namesKnown) this.render(this.trends);
  }

  render(trends) {
    this.trends = trends;
    this.namesKnown = this.categoryNames.size;
    const series = Object.entries(trends?.series || {})
      .map(([category, points]) => ({ category, points, total: points.reduce((sum, p) => sum + p.count, 0) }))
      .sort((a, b) => b.total - a.total || a.category.localeCompare(b.category));
    if (!series.length) {
      this.container.replaceChildren(h("p", { class: "placeholder" }, "近期没有预警"));
      return;
    }
    const names = trends.names || {};
    const format = trends.bucket === "hour" ? hourLabel : dayLabel;
    this.container.replaceChildren(
      ...series.map(({ category, points, total }) => {
        const first = points[0];
        const last = points[points.length - 1];
        return h(
          "figure",
          { class: "trend", "data-testid": "trend-chart", "data-category": category },
          h("figcaption", {}, h("span", { class: "trend-name" }, names[category] || this.categoryNames.get(category) || category), h("span", { class: "trend-total" }, `${total} 条`)),
          chart(points, trends.bucket),
          h("div", { class: "trend-range" }, h("span", {}, first ? format.format(new Date(first.t)) : ""), h("span", {}, last ? format.format(new Date(last.t)) : "")),
        );
      }),
    );
  }
}
