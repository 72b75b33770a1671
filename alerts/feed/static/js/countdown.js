// Deadline countdowns that tick once a second without re-rendering the views around them.

import { h, formatDuration } from "./dom.js";

/** A span counting down to `dueIso`; turns "overdue" (and says so) once the deadline passes. */
export function countdown(dueIso, testId) {
  const node = h("span", { class: "countdown", "data-due": dueIso, "data-testid": testId });
  update(node, Date.now());
  return node;
}

function update(node, now) {
  const remaining = (new Date(node.dataset.due).getTime() - now) / 1000;
  const overdue = remaining < 0;
  node.classList.toggle("overdue", overdue);
  node.classList.toggle("soon", !overdue && remaining < 300);
  node.textContent = overdue ? `已超时 ${formatDuration(-remaining)}` : `剩余 ${formatDuration(remaining)}`;
}

/** Refresh every countdown under `root`. */
export function tick(root = document) {
  const now = Date.now();
  root.querySelectorAll(".countdown[data-due]").forEach((node) => update(node, now));
}
