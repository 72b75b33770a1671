// Chinese labels for the domain's codes, and what the page offers per role and status.
// The server decides; these only keep the page from offering what it would refuse.

export const LEVELS = ["I", "II", "III", "IV"];

export const LEVEL_INFO = {
  I: { name: "Ⅰ级", colour: "red", colourZh: "红色", label: "特别严重" },
  II: { name: "Ⅱ级", colour: "orange", colourZh: "橙色", label: "严重" },
  III: { name: "Ⅲ级", colour: "yellow", colourZh: "黄色", label: "较重" },
  IV: { name: "Ⅳ级", colour: "blue", colourZh: "蓝色", label: "一般" },
};

export const LEVEL_RANK = { I: 4, II: 3, III: 2, IV: 1 };

export const STATUS_LABELS = {
  new: "待处置",
  dispatched: "已派发",
  acknowledged: "已确认",
  in_progress: "处置中",
  resolved: "已处置",
  closed: "已办结",
  false_alarm: "误报",
  cancelled: "已撤销",
};

export const TERMINAL_STATUSES = new Set(["closed", "false_alarm", "cancelled"]);

export const ROLE_LABELS = {
  commander: "指挥员",
  operator: "部门值班员",
  analyst: "分析员",
  public: "公众",
};

export const SOURCE_LABELS = { hotline: "12345热线", police: "110警情", sensor: "物联感知" };

export const MSG_TYPE_LABELS = { Alert: "发布", Update: "更新", Cancel: "解除" };

export const PUBLICATION_LABELS = {
  public: "已向公众发布",
  awaiting_approval: "待指挥员批准公开",
};

/** Lifecycle actions in the order the buttons appear, with the status each leads to. */
export const ACTIONS = [
  { action: "dispatch", label: "派发", to: "dispatched" },
  { action: "acknowledge", label: "确认接警", to: "acknowledged" },
  { action: "start", label: "开始处置", to: "in_progress" },
  { action: "resolve", label: "处置完成", to: "resolved" },
  { action: "close", label: "办结", to: "closed" },
  { action: "false_alarm", label: "标记误报", to: "false_alarm", danger: true },
];

/** Statuses reachable from each status (the disposal lifecycle of DESIGN.md). */
const NEXT_STATUSES = {
  new: ["dispatched", "acknowledged", "false_alarm", "cancelled"],
  dispatched: ["acknowledged", "false_alarm", "cancelled"],
  acknowledged: ["in_progress", "resolved", "false_alarm", "cancelled"],
  in_progress: ["resolved", "false_alarm", "cancelled"],
  resolved: ["closed", "in_progress"],
};

const TRANSITION_ROLES = new Set(["commander", "operator"]);

/** The lifecycle actions a role may offer on a warning in `status`. */
export function actionsFor(role, status) {
  if (!TRANSITION_ROLES.has(role)) return [];
  const next = new Set(NEXT_STATUSES[status] || []);
  return ACTIONS.filter((entry) => next.has(entry.to));
}

/** Whether the approve-for-public-feed button belongs on this warning for this role. */
export function canApprove(role, publication) {
  return role === "commander" && publication?.state === "awaiting_approval";
}

export function levelText(level) {
  const info = LEVEL_INFO[level];
  return info ? `${info.name} ${info.colourZh}` : String(level);
}
