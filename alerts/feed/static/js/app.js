// Entry point of the command-center page: signs in with a token, loads the city map,
// warnings, trends and pipeline health, then keeps them live from the event stream.

import { ApiError, forgetToken, onStoreUnavailable, openStream, query, request, savedToken, saveToken } from "./api.js";
import { formatClock } from "./dom.js";
import { tick } from "./countdown.js";
import { DetailPanel } from "./detail.js";
import { HealthStrip } from "./health.js";
import { ROLE_LABELS } from "./labels.js";
import { WarningList } from "./list.js";
import { RegionMap } from "./map.js";
import { WarningState } from "./state.js";
import { TrendCharts } from "./trends.js";

const WALL_KEY = "riskwatch.wall";
const WARNING_LIMIT = 500;
const TRENDS_EVERY_MS = 5 * 60 * 1000;
const TRENDS_AFTER_NEWS_MS = 15 * 1000;

const $ = (testId) => document.querySelector(`[data-testid="${testId}"]`);

const state = new WarningState();
const session = { identity: null, stream: null, everOpen: false };
const list = new WarningList(state, {
  list: $("warning-list"),
  empty: $("list-empty"),
  form: $("filters"),
  counts: $("level-counts"),
  streamState: $("stream-state"),
});
const map = new RegionMap(state, $("map"), $("legend"));
const detail = new DetailPanel(state, $("detail-body"), session);
const health = new HealthStrip($("pipeline-health"));
onStoreUnavailable(() => health.storeUnavailable());
const trends = new TrendCharts($("trends"), state.categoryNames);
let trendsTimer = null;
state.addEventListener("change", () => trends.namesChanged());

function showPanelError(testId, error) {
  const node = $(testId);
  node.replaceChildren();
  const message = document.createElement("p");
  message.className = "error";
  message.textContent = `加载失败：${error.message}`;
  node.append(message);
}

// ------------------------------------------------------------------ sign-in

function askForToken(message = "") {
  const dialog = $("login-dialog");
  const error = $("login-error");
  error.textContent = message;
  error.hidden = !message;
  $("token-input").value = "";
  if (!dialog.open) dialog.showModal();
  $("token-input").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  saveToken(token);
  await start();
});

$("logout").addEventListener("click", () => {
  stop();
  forgetToken();
  askForToken();
});

function stop() {
  session.stream?.close();
  session.stream = null;
  session.identity = null;
  session.everOpen = false;
  clearTimeout(trendsTimer);
}

async function start() {
  stop();
  let identity;
  try {
    identity = await request("api/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken();
      askForToken(`令牌无效或已吊销：${error.message}`);
    } else {
      askForToken(`无法验证令牌：${error.message}`);
    }
    return;
  }
  if (identity.role === "public") {
    forgetToken();
    askForToken("公众令牌只能读取公开的 CAP / Atom 预警源，不能进入指挥中心页面");
    return;
  }
  session.identity = identity;
  const dialog = $("login-dialog");
  if (dialog.open) dialog.close();
  const who = $("who");
  const department = identity.department ? ` · ${identity.department}` : "";
  who.textContent = `${identity.name}（${ROLE_LABELS[identity.role] || identity.role}${department}）`;
  who.dataset.role = identity.role;
  loadMap();
  loadPipeline();
  loadTrends();
  connect();
}

// ------------------------------------------------------------------ loads

async function loadMap() {
  try {
    map.load(await request("api/regions.geojson"));
  } catch (error) {
    showPanelError("map", error);
  }
}

async function loadWarnings() {
  try {
    state.replaceAll(await request(`api/warnings${query({ limit: WARNING_LIMIT })}`));
  } catch (error) {
    showPanelError("warning-list", error);
  }
}

async function loadPipeline() {
  try {
    health.update(await request("api/pipeline"));
  } catch (error) {
    health.render();
  }
}

async function loadTrends() {
  clearTimeout(trendsTimer);
  try {
    trends.render(await request(`api/trends${query({ days: 7 })}`));
  } catch (error) {
    showPanelError("trends", error);
  }
  trendsTimer = setTimeout(loadTrends, TRENDS_EVERY_MS);
}

function trendsSoon() {
  clearTimeout(trendsTimer);
  trendsTimer = setTimeout(loadTrends, TRENDS_AFTER_NEWS_MS);
}

// ------------------------------------------------------------------ live stream

function connect() {
  if (!session.identity) return; // signed out while a reconnect was pending
  session.stream?.close();
  // The list is (re)loaded each time the stream opens, so nothing saved while it was
  // connecting or down is missed.
  session.stream = openStream(
    {
      warning: (view) => {
        state.upsert(view);
        if (view.warning_id === state.selectedId) detail.refresh();
        trendsSoon();
      },
      transition: (transition) => {
        state.applyTransition(transition);
        if (transition.warning_id === state.selectedId) detail.refresh();
      },
      escalation: (escalation) => {
        if (escalation.warning_id === state.selectedId) detail.refresh();
      },
      health: (pipeline) => health.update(pipeline),
    },
    async (streamState) => {
      if (streamState === "open") {
        await loadWarnings();
        list.setStreamState("open", "实时");
        health.setStreamOpen(true);
        session.everOpen = true;
        return;
      }
      health.setStreamOpen(false);
      list.setStreamState(streamState, streamState === "closed" ? "已断开" : "重连中…");
      if (streamState === "closed") {
        // EventSource gives up on an HTTP error such as 401: find out whether the token went bad.
        try {
          await request("api/me");
          setTimeout(connect, 5000);
        } catch (error) {
          if (error.status === 401) askForToken(`令牌已失效：${error.message}`);
          else setTimeout(connect, 5000);
        }
      }
    },
  );
}

// ------------------------------------------------------------------ screen

function applyWallMode(on) {
  document.documentElement.classList.toggle("wall", on);
  $("toggle-wall").setAttribute("aria-pressed", String(on));
}

$("toggle-wall").addEventListener("click", () => {
  const on = !document.documentElement.classList.contains("wall");
  localStorage.setItem(WALL_KEY, on ? "1" : "0");
  applyWallMode(on);
});

function everySecond() {
  $("clock").textContent = formatClock(new Date());
  tick();
  health.render();
}

const wallParam = new URLSearchParams(location.search).get("wall");
applyWallMode(wallParam !== null ? wallParam === "1" : localStorage.getItem(WALL_KEY) === "1");
everySecond();
setInterval(everySecond, 1000);
// A link like /#token=… (as `riskwatch demo` prints it) signs in once; the fragment never
// reaches the server and is removed from the address bar straight away.
const fragmentToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (fragmentToken) {
  saveToken(fragmentToken);
  history.replaceState(null, "", location.pathname + location.search);
}
if (savedToken()) start();
else askForToken();
