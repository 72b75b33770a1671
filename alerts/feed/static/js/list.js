// The live warning list: filters (level, status, category), the open count per level, and one
// row per warning coloured by level, newest first. Clicking a row selects the warning.

import { h, formatTime } from "./dom.js";
import { countdown } from "./countdown.js";
import { LEVELS, LEVEL_INFO, STATUS_LABELS, TERMINAL_STATUSES } from "./labels.js";

const OPEN = "open";

function option(value, label, selected) {
  return h("option", { value, selected: value === selected }, label);
}

function matches(view, filters) {
  if (filters.level && view.level !== filters.level) return false;
  if (filters.category && view.category !== filters.category) return false;
  if (filters.status === OPEN) return !TERMINAL_STATUSES.has(view.status);
  return !filters.status || view.status === filters.status;
}

export class WarningList {
  constructor(state, { list, empty, form, counts, streamState }) {
    this.state = state;
    this.list = list;
    this.empty = empty;
    this.form = form;
    this.counts = counts;
    this.streamState = streamState;
    this.filters = { level: "", status: OPEN, category: "" };
    this.#fillStaticFilters();
    form.addEventListener("change", () => this.#readFilters());
    state.addEventListener("change", () => this.render());
    state.addEventListener("select", () => this.#markSelected());
  }

  #fillStaticFilters() {
    const level = this.form.elements.level;
    level.replaceChildren(option("", "全部等级", ""), ...LEVELS.map((l) => option(l, `${LEVEL_INFO[l].name} ${LEVEL_INFO[l].label}`, "")));
    const status = this.form.elements.status;
    status.replaceChildren(
      option(OPEN, "未结束", OPEN),
      option("", "全部状态", OPEN),
      ...Object.entries(STATUS_LABELS).map(([code, label]) => option(code, label, OPEN)),
    );
  }

  #fillCategories() {
    const select = this.form.elements.category;
    const current = this.filters.category;
    const names = [...this.state.categoryNames.entries()].sort((a, b) => a[1].localeCompare(b[1], "zh-CN"));
    select.replaceChildren(option("", "全部类别", current), ...names.map(([code, name]) => option(code, name, current)));
  }

  #readFilters() {
    const elements = this.form.elements;
    this.filters = { level: elements.level.value, status: elements.status.value, category: elements.category.value };
    this.render();
  }

  /** Show only one level (or all again when it is already the filter). */
  toggleLevel(level) {
    this.form.elements.level.value = this.filters.level === level ? "" : level;
    this.#readFilters();
  }

  setStreamState(state, text) {
    this.streamState.dataset.state = state;
    this.streamState.textContent = text;
  }

  render() {
    this.#fillCategories();
    this.#renderCounts();
    const rows = this.state.sorted().filter((view) => matches(view, this.filters)).map((view) => this.#row(view));
    this.list.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
    this.#markSelected();
  }

  #renderCounts() {
    const counts = this.state.openCounts();
    this.counts.replaceChildren(
      ...LEVELS.map((level) =>
        h(
          "button",
          {
            type: "button",
            class: `count level-${LEVEL_INFO[level].colour}`,
            "data-testid": `count-${level}`,
            "data-level": level,
            "aria-pressed": String(this.filters.level === level),
            title: `${LEVEL_INFO[level].name}（${LEVEL_INFO[level].colourZh}，${LEVEL_INFO[level].label}）未结束预警`,
            onclick: () => this.toggleLevel(level),
          },
          h("span", { class: "count-label" }, LEVEL_INFO[level].name),
          h("span", { class: "count-value" }, String(counts[level])),
        ),
      ),
    );
  }

  #row(view) {
    const info = LEVEL_INFO[view.level] || { name: view.level, colour: "grey" };
    const waitingForAck = ["new", "dispatched"].includes(view.status) && view.disposal?.acknowledge_due;
    return h(
      "li",
      {
        class: `warning-row level-${info.colour} status-${view.status}`,
        tabindex: "0",
        "data-testid": "warning-row",
        "data-warning-id": view.warning_id,
        "data-level": view.level,
        "data-status": view.status,
        onclick: () => this.state.select(view.warning_id),
        onkeydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            this.state.select(view.warning_id);
          }
        },
      },
      h("span", { class: "row-level" }, info.name),
      h(
        "span",
        { class: "row-main" },
        h("span", { class: "row-title", "data-testid": "row-title" }, view.title),
        h("span", { class: "row-meta" }, `${view.region_name} · ${view.category_name} · ${formatTime(view.updated_at)}`),
      ),
      h(
        "span",
        { class: "row-side" },
        h("span", { class: `status-chip status-${view.status}`, "data-testid": "row-status" }, STATUS_LABELS[view.status] || view.status),
        waitingForAck ? countdown(view.disposal.acknowledge_due, "row-ack-countdown") : null,
      ),
    );
  }

  #markSelected() {
    for (const row of this.list.children) {
      const selected = row.dataset.warningId === this.state.selectedId;
      row.classList.toggle("selected", selected);
      row.setAttribute("aria-selected", String(selected));
    }
  }
}
