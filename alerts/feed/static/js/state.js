// The page's one copy of the warnings it knows, fed by the initial load and the live stream.
// Views listen for "change" (the set or a warning changed) and "select" (the selection moved).

import { TERMINAL_STATUSES } from "./labels.js";

function newer(candidate, current) {
  if (!current) return true;
  if (candidate.version !== current.version) return candidate.version > current.version;
  return true; // same version: the later read carries the later status and publication
}

export class WarningState extends EventTarget {
  constructor() {
    super();
    this.warnings = new Map();
    this.selectedId = null;
    this.categoryNames = new Map();
  }

  #changed(ids) {
    this.dispatchEvent(new CustomEvent("change", { detail: { ids } }));
  }

  #remember(view) {
    if (view.category) this.categoryNames.set(view.category, view.category_name || view.category);
  }

  /** Replace everything with a fresh list from GET /api/warnings. */
  replaceAll(views) {
    this.warnings = new Map(views.map((view) => [view.warning_id, view]));
    views.forEach((view) => this.#remember(view));
    this.#changed(null);
  }

  /** A WarningView from the stream or a detail read; an older version never overwrites a newer one. */
  upsert(view) {
    if (!newer(view, this.warnings.get(view.warning_id))) return;
    const previous = this.warnings.get(view.warning_id);
    // A detail read carries extra fields (transitions, versions); keep the list view lean.
    const { transitions, versions, escalations, ...lean } = view;
    this.warnings.set(view.warning_id, previous ? { ...previous, ...lean } : lean);
    this.#remember(view);
    this.#changed([view.warning_id]);
  }

  /** A Transition from the stream: the warning's status moves at once. */
  applyTransition(transition) {
    const current = this.warnings.get(transition.warning_id);
    if (!current) return;
    this.warnings.set(transition.warning_id, { ...current, status: transition.to_status });
    this.#changed([transition.warning_id]);
  }

  select(warningId) {
    this.selectedId = warningId;
    this.dispatchEvent(new CustomEvent("select", { detail: { warningId } }));
  }

  get(warningId) {
    return this.warnings.get(warningId);
  }

  /** Every warning, newest update first. */
  sorted() {
    return [...this.warnings.values()].sort(
      (a, b) => new Date(b.updated_at) - new Date(a.updated_at) || a.warning_id.localeCompare(b.warning_id),
    );
  }

  /** Open (not closed, false alarm or cancelled) warnings per level. */
  openCounts() {
    const counts = { I: 0, II: 0, III: 0, IV: 0 };
    for (const view of this.warnings.values()) {
      if (!TERMINAL_STATUSES.has(view.status) && view.level in counts) counts[view.level] += 1;
    }
    return counts;
  }
}
