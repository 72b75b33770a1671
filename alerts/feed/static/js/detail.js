// The detail panel of the selected warning: facts, deadlines with countdowns, explanation,
// evidence signals, timeline and publication state, plus the action buttons the viewer's
// role and the warning's status allow. The server has the last word: a refusal (403/409)
// is shown with its own message.

import { request } from "./api.js";
import { h, formatNumber, formatTime } from "./dom.js";
import { countdown } from "./countdown.js";
import {
  LEVEL_INFO, MSG_TYPE_LABELS, PUBLICATION_LABELS, SOURCE_LABELS, STATUS_LABELS, TERMINAL_STATUSES,
  actionsFor, canApprove, levelText,
} from "./labels.js";

const TIER_LABELS = { grid: "网格", street: "街道", district: "区县", city_command_center: "市应急指挥中心" };
const DEADLINE_LABELS = { acknowledge: "确认时限", resolve: "处置时限" };

function fact(label, value, testId) {
  return [h("dt", {}, label), h("dd", { "data-testid": testId }, value)];
}

function section(title, ...content) {
  return h("section", { class: "detail-section" }, h("h3", {}, title), ...content);
}

function sourcesText(sources) {
  return (sources || []).map((source) => SOURCE_LABELS[source] || source).join("、") || "—";
}

function deadline(label, due, done, testId) {
  if (!due) return fact(label, "—", testId);
  const value = done
    ? h("span", {}, `${formatTime(due)}（已满足）`)
    : h("span", {}, `${formatTime(due)} `, countdown(due, `${testId}-countdown`));
  return fact(label, value, testId);
}

/** Versions, transitions and escalations of a warning as one list, oldest first. */
function timelineEntries(view) {
  const entries = [];
  for (const version of view.versions || []) {
    const level = LEVEL_INFO[version.level]?.name || version.level;
    entries.push({
      at: version.updated_at,
      kind: "version",
      text: `第${version.version}版 ${MSG_TYPE_LABELS[version.msg_type] || version.msg_type} · ${level} · 评分 ${formatNumber(version.score)}`,
    });
  }
  for (const transition of view.transitions || []) {
    const from = STATUS_LABELS[transition.from_status] || transition.from_status;
    const to = STATUS_LABELS[transition.to_status] || transition.to_status;
    const reason = transition.reason ? `：${transition.reason}` : "";
    entries.push({ at: transition.at, kind: "transition", text: `${from} → ${to} · ${transition.actor}（${transition.role}）${reason}` });
  }
  for (const escalation of view.escalations || []) {
    const what = DEADLINE_LABELS[escalation.deadline] || escalation.deadline;
    const from = TIER_LABELS[escalation.tier_from] || escalation.tier_from;
    const to = TIER_LABELS[escalation.tier_to] || escalation.tier_to;
    entries.push({ at: escalation.at, kind: "escalation", text: `${what}超时（应于 ${formatTime(escalation.due)}），由${from}升级至${to}` });
  }
  return entries.sort((a, b) => new Date(a.at) - new Date(b.at));
}

export class DetailPanel {
  constructor(state, body, session) {
    this.state = state;
    this.body = body;
    this.session = session; // {identity}: who is looking, for the buttons
    this.view = null;
    this.loading = null;
    this.pending = false;
    state.addEventListener("select", (event) => this.show(event.detail.warningId));
  }

  async show(warningId) {
    this.view = null;
    this.body.replaceChildren(h("p", { class: "placeholder" }, "加载中…"));
    await this.refresh(warningId);
  }

  /** Reload the selected warning; calls during a load coalesce into one more load. */
  async refresh(warningId = this.state.selectedId) {
    if (!warningId || warningId !== this.state.selectedId) return;
    if (this.loading) {
      this.pending = true;
      return;
    }
    this.loading = this.#load(warningId);
    try {
      await this.loading;
    } finally {
      this.loading = null;
    }
    if (this.pending) {
      this.pending = false;
      await this.refresh();
    }
  }

  async #load(warningId) {
    try {
      const view = await request(`api/warnings/${encodeURIComponent(warningId)}`);
      if (warningId !== this.state.selectedId) return;
      this.view = view;
      this.state.upsert(view);
      this.render();
    } catch (error) {
      if (warningId !== this.state.selectedId) return;
      this.body.replaceChildren(h("p", { class: "error", role: "alert", "data-testid": "detail-error" }, `无法加载预警：${error.message}`));
    }
  }

  render(message = null) {
    const view = this.view;
    if (!view) return;
    const info = LEVEL_INFO[view.level] || { colour: "grey", name: view.level, label: "" };
    const disposal = view.disposal;
    const acknowledged = !["new", "dispatched"].includes(view.status);
    const resolved = ["resolved", ...TERMINAL_STATUSES].includes(view.status);
    const publication = view.publication;
    const parts = [
      h(
        "header",
        { class: `detail-header level-${info.colour}`, "data-warning-id": view.warning_id },
        h("span", { class: "detail-level", "data-testid": "detail-level" }, `${info.name}`),
        h("span", { class: "detail-level-text" }, `${info.colourZh || ""}预警 · ${info.label}`),
        h("h3", { class: "detail-title", "data-testid": "detail-title" }, view.title),
      ),
      h(
        "dl",
        { class: "facts" },
        fact("状态", h("span", { class: `status-chip status-${view.status}`, "data-status": view.status }, STATUS_LABELS[view.status] || view.status), "detail-status"),
        fact("等级", levelText(view.level), "detail-level-full"),
        fact("类别", view.category_name || view.category, "detail-category"),
        fact("区域", view.region_name, "detail-region"),
        fact("责任部门", view.department_name || view.department || "未指定", "detail-department"),
        fact("首次发现", formatTime(view.first_seen), "detail-first-seen"),
        fact("最近更新", `${formatTime(view.updated_at)}（第${view.version}版 ${MSG_TYPE_LABELS[view.msg_type] || view.msg_type}）`, "detail-updated"),
        fact("综合评分", formatNumber(view.score), "detail-score"),
        fact("信息来源", sourcesText(view.sources), "detail-sources"),
        fact("公开发布", this.#publicationText(publication), "detail-publication"),
        disposal ? deadline("确认时限", disposal.acknowledge_due, acknowledged, "detail-ack-due") : null,
        disposal ? deadline("处置时限", disposal.resolve_due, resolved, "detail-resolve-due") : null,
        disposal ? fact("当前层级", TIER_LABELS[disposal.tier] || disposal.tier, "detail-tier") : null,
      ),
      this.#actions(view, message),
      section("研判依据", h("ul", { class: "explanation", "data-testid": "detail-explanation" }, (view.explanation || []).map((line) => h("li", {}, line)))),
      section("证据信号", this.#signals(view.signals || [])),
      section(
        "处置时间线",
        h("ol", { class: "timeline", "data-testid": "detail-timeline" },
          timelineEntries(view).map((entry) =>
            h("li", { class: `timeline-${entry.kind}` }, h("time", {}, formatTime(entry.at)), h("span", {}, entry.text)))),
      ),
    ];
    this.body.replaceChildren(...parts.filter(Boolean));
  }

  #publicationText(publication) {
    if (!publication) return "—";
    const label = PUBLICATION_LABELS[publication.state] || publication.state;
    return publication.public_version ? `${label}（公开版本 第${publication.public_version}版）` : label;
  }

  #signals(signals) {
    if (!signals.length) return h("p", { class: "placeholder" }, "无信号");
    return h(
      "table",
      { class: "signals", "data-testid": "detail-signals" },
      h("thead", {}, h("tr", {}, ["检测器", "来源", "评分", "观测值 / 期望值", "原因", "时间"].map((title) => h("th", {}, title)))),
      h(
        "tbody",
        {},
        signals.map((signal) =>
          h(
            "tr",
            { "data-testid": "signal-row" },
            h("td", {}, signal.detector),
            h("td", {}, SOURCE_LABELS[signal.source] || signal.source),
            h("td", { class: "num" }, formatNumber(signal.score)),
            h("td", { class: "num" }, `${formatNumber(signal.observed)} / ${signal.expected === null || signal.expected === undefined ? "—" : formatNumber(signal.expected)}`),
            h("td", {}, signal.reason),
            h("td", {}, formatTime(signal.at)),
          ),
        ),
      ),
    );
  }

  #actions(view, message) {
    const identity = this.session.identity;
    const role = identity?.role;
    const buttons = actionsFor(role, view.status).map(({ action, label, danger }) =>
      h("button", { type: "button", class: danger ? "danger" : "primary", "data-action": action, onclick: () => this.#act(action, label) }, label),
    );
    if (canApprove(role, view.publication)) {
      buttons.push(h("button", { type: "button", class: "primary", "data-action": "approve", onclick: () => this.#approve() }, "批准公开发布"));
    }
    if (!buttons.length) return null;
    return h(
      "div",
      { class: "actions", "data-testid": "actions" },
      h("input", { type: "text", name: "reason", placeholder: "处置说明（可选）", "aria-label": "处置说明", "data-testid": "action-reason", maxlength: "500" }),
      h("div", { class: "action-buttons" }, buttons),
      h("p", { class: message?.error ? "error" : "notice", role: "alert", "data-testid": "action-message", hidden: !message }, message?.text || ""),
    );
  }

  #reason(fallback) {
    const input = this.body.querySelector('[data-testid="action-reason"]');
    return input?.value.trim() || fallback;
  }

  async #run(work, doneText) {
    const view = this.view;
    this.body.querySelectorAll("[data-action]").forEach((button) => (button.disabled = true));
    try {
      const result = await work();
      await this.refresh(view.warning_id);
      this.render({ text: doneText, error: false });
      return result;
    } catch (error) {
      this.render({ text: `操作被拒绝（HTTP ${error.status || "—"}）：${error.message}`, error: true });
      return null;
    }
  }

  async #act(action, label) {
    const id = this.view.warning_id;
    await this.#run(async () => {
      const transition = await request(`api/warnings/${encodeURIComponent(id)}/actions/${action}`, {
        method: "POST",
        body: { reason: this.#reason(`指挥中心页面：${label}`) },
      });
      this.state.applyTransition(transition);
      return transition;
    }, `已${label}`);
  }

  async #approve() {
    const id = this.view.warning_id;
    await this.#run(() => request(`api/warnings/${encodeURIComponent(id)}/approve`, { method: "POST", body: {} }), "已批准公开发布");
  }
}
