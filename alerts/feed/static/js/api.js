// The alert-feed API as the page uses it: the token kept in localStorage, JSON requests with
// a bearer token, and the Server-Sent Events stream (which takes the token in the query,
// as EventSource cannot send headers).

const TOKEN_KEY = "riskwatch.token";

export function savedToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  localStorage.removeItem(TOKEN_KEY);
}

const storeListeners = [];

/** Call `listener` whenever a request answers 503: the API cannot reach its store. */
export function onStoreUnavailable(listener) {
  storeListeners.push(listener);
}

/** A refused or failed request, carrying the server's own `detail` message. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

function detailText(body, status) {
  const detail = body && typeof body === "object" ? body.detail : null;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((item) => item.msg || JSON.stringify(item)).join("；");
  if (detail) return JSON.stringify(detail);
  return `服务器返回 HTTP ${status}`;
}

/** Call the API; resolves to the JSON body, rejects with an ApiError naming what was refused. */
export async function request(path, { method = "GET", body, token = savedToken() } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `无法连接服务器：${error.message}`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.status === 503) storeListeners.forEach((listener) => listener());
  if (!response.ok) throw new ApiError(response.status, detailText(data, response.status));
  return data;
}

/** The query string for a filter object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Open the live stream. `handlers` maps event names (warning, transition, escalation, health)
 * to callbacks taking the parsed JSON; `onState` hears "open" / "retrying" / "closed".
 */
export function openStream(handlers, onState, token = savedToken()) {
  const source = new EventSource(`api/stream${query({ token })}`);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        console.warn(`stream event ${name} is not JSON`, event.data);
        return;
      }
      handler(data);
    });
  }
  source.addEventListener("open", () => onState("open"));
  source.addEventListener("error", () => onState(source.readyState === EventSource.CLOSED ? "closed" : "retrying"));
  return source;
}
