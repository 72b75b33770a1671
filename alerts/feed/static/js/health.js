// The pipeline health strip: consumer lag, detectors still warming up and the dead-letter
// rate, from /api/pipeline and the stream's `health` events. It turns amber or red when the
// pipeline is behind, failing or silent, so a quiet screen is not taken for a quiet city.
// While the API cannot reach its store (the pipeline body says `store: "unavailable"`, or a
// request answers 503) it is red and says "存储不可用 / store unavailable"; a store outage a
// worker rode out in the last hour is named after it is over.

import { formatAge, formatDuration, formatTime } from "./dom.js";

const STALE_AFTER_S = 45; // no health news for this long: amber; twice as long: red
const LAG_AMBER = 1000;
const LAG_RED = 10000;
const DEAD_AMBER = 1;
const DEAD_RED = 10;
const PAST_OUTAGE_SHOWN_S = 3600;
export const STORE_UNAVAILABLE = "存储不可用 / store unavailable";

const SEVERITY = { ok: 0, warn: 1, bad: 2 };

function worst(a, b) {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

export class HealthStrip {
  constructor(element) {
    this.element = element;
    this.text = element.querySelector(".health-text");
    this.pipeline = null;
    this.receivedAt = null;
    this.streamOpen = false;
    this.storeDownSince = null;
  }

  /** A /api/pipeline body, from the initial read or a `health` event. */
  update(pipeline) {
    this.pipeline = pipeline;
    this.receivedAt = Date.now();
    this.storeDownSince = pipeline.store === "unavailable" ? this.storeDownSince || Date.now() : null;
    this.render();
  }

  /** A request answered 503: the API cannot reach its store (until a pipeline body says otherwise). */
  storeUnavailable() {
    this.storeDownSince = this.storeDownSince || Date.now();
    this.render();
  }

  setStreamOpen(open) {
    this.streamOpen = open;
    this.render();
  }

  /** Re-judge staleness; called every second. */
  render() {
    const problems = [];
    let state = "ok";
    if (!this.streamOpen) {
      state = "bad";
      problems.push("实时连接中断");
    }
    if (this.storeDownSince !== null) {
      const since = formatAge(new Date(this.storeDownSince).toISOString());
      this.#show("bad", [STORE_UNAVAILABLE, ...problems, `始于 ${since}`], "告警存储无法访问：新预警将在存储恢复后写入，不会丢失");
      return;
    }
    const p = this.pipeline;
    if (!p) {
      this.#show(worst(state, "warn"), [...problems, "尚无数据管道状态"], "");
      return;
    }
    const silentFor = (Date.now() - this.receivedAt) / 1000;
    if (silentFor > 2 * STALE_AFTER_S) state = worst(state, "bad");
    else if (silentFor > STALE_AFTER_S) state = worst(state, "warn");
    if (silentFor > STALE_AFTER_S) problems.push(`状态已 ${Math.floor(silentFor)} 秒未更新`);
    if (p.stale) {
      state = worst(state, "bad");
      problems.push("数据管道无心跳");
    }
    const lag = Object.values(p.lag || {}).reduce((sum, n) => sum + Number(n || 0), 0);
    if (lag >= LAG_RED) state = worst(state, "bad");
    else if (lag >= LAG_AMBER) state = worst(state, "warn");
    const warming = p.warming_up || [];
    if (warming.length) state = worst(state, "warn");
    const dead = Number(p.dead_letters_per_min || 0);
    if (dead >= DEAD_RED) state = worst(state, "bad");
    else if (dead >= DEAD_AMBER) state = worst(state, "warn");
    const latest = Object.values(p.components || {}).map((c) => c.at).filter(Boolean).sort().pop();
    const parts = [
      `积压 ${lag} 条`,
      warming.length ? `预热中 ${warming.length} 个检测器` : "检测器就绪",
      `死信 ${dead.toFixed(1)} 条/分`,
      latest ? `心跳 ${formatAge(latest)}` : "无心跳",
    ];
    const outage = lastStoreOutage(p.components);
    if (outage) parts.push(`存储曾中断 ${formatDuration(outage.seconds)}（${formatTime(outage.until)} 恢复）`);
    const detail = [
      ...Object.entries(p.lag || {}).map(([topic, n]) => `${topic}: 积压 ${n}`),
      warming.length ? `预热中：${warming.join("、")}` : "",
    ].filter(Boolean).join("\n");
    this.#show(state, [...problems, ...parts], detail);
  }

  #show(state, parts, detail) {
    this.element.dataset.state = state;
    this.text.textContent = parts.join(" · ");
    this.element.title = detail;
  }
}

/** The most recent store outage a worker reported as over within the last hour, or null. */
function lastStoreOutage(components) {
  const outages = Object.values(components || {})
    .map((c) => c.payload?.store?.last_outage)
    .filter((o) => o && o.until && Date.now() - new Date(o.until).getTime() < PAST_OUTAGE_SHOWN_S * 1000)
    .sort((a, b) => a.until.localeCompare(b.until));
  return outages.pop() || null;
}
