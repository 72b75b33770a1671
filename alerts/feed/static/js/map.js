// The sample city's map as inline SVG from /api/regions.geojson (no tile server): district,
// street and grid outlines with labels; each open warning fills its region in its level's
// colour (pulsing) and gets a marker. Clicking either selects the warning.

import { h, s } from "./dom.js";
import { LEVELS, LEVEL_INFO, LEVEL_RANK, TERMINAL_STATUSES } from "./labels.js";

const WIDTH = 1000;
const PAD = 24;
const LEVEL_ORDER = { district: 0, street: 1, grid: 2 };

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

function regionLevel(properties) {
  if (properties.level) return properties.level;
  const code = String(properties.code || "");
  return code.length <= 6 ? "district" : code.length <= 9 ? "street" : "grid";
}

/** An equirectangular projection of the features' bounds onto a WIDTH-wide box. */
function projection(features) {
  let [minLon, minLat, maxLon, maxLat] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const feature of features) {
    for (const ring of rings(feature.geometry)) {
      for (const [lon, lat] of ring) {
        minLon = Math.min(minLon, lon);
        maxLon = Math.max(maxLon, lon);
        minLat = Math.min(minLat, lat);
        maxLat = Math.max(maxLat, lat);
      }
    }
  }
  const kx = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const scale = (WIDTH - 2 * PAD) / Math.max((maxLon - minLon) * kx, 1e-9);
  const height = (maxLat - minLat) * scale + 2 * PAD;
  const project = ([lon, lat]) => [PAD + (lon - minLon) * kx * scale, PAD + (maxLat - lat) * scale];
  return { project, height };
}

function pathData(geometry, project) {
  return rings(geometry)
    .map((ring) => ring.map((point, i) => `${i ? "L" : "M"}${project(point).map((v) => v.toFixed(1)).join(",")}`).join("") + "Z")
    .join("");
}

function ringCentre(geometry, project) {
  const points = rings(geometry)[0] || [];
  const unique = points.length > 1 ? points.slice(0, -1) : points;
  const projected = unique.map(project);
  const sum = projected.reduce(([x, y], [px, py]) => [x + px, y + py], [0, 0]);
  return projected.length ? [sum[0] / projected.length, sum[1] / projected.length] : [WIDTH / 2, WIDTH / 2];
}

export class RegionMap {
  constructor(state, container, legend) {
    legend.replaceChildren(
      ...LEVELS.map((level) =>
        h("span", { class: `legend-item level-${LEVEL_INFO[level].colour}` }, h("span", { class: "swatch" }), `${LEVEL_INFO[level].name}${LEVEL_INFO[level].colourZh}`),
      ),
    );
    this.state = state;
    this.container = container;
    this.regions = new Map(); // code -> {name, level, d, centre}
    this.svg = null;
    state.addEventListener("change", () => this.render());
    state.addEventListener("select", () => this.render());
  }

  /** Draw the city once from its GeoJSON FeatureCollection. */
  load(geojson) {
    const features = (geojson.features || []).filter((f) => rings(f.geometry).length);
    if (!features.length) {
      this.container.textContent = "区域边界数据为空";
      return;
    }
    features.sort((a, b) => LEVEL_ORDER[regionLevel(b.properties)] - LEVEL_ORDER[regionLevel(a.properties)]);
    this.proj = projection(features);
    const { project, height } = this.proj;
    const base = s("g", { class: "map-base" });
    const outlines = s("g", { class: "map-outlines" });
    const labels = s("g", { class: "map-labels" });
    for (const feature of features) {
      const props = feature.properties || {};
      const level = regionLevel(props);
      const d = pathData(feature.geometry, project);
      const centre = props.centroid ? project(props.centroid) : ringCentre(feature.geometry, project);
      this.regions.set(String(props.code), { name: props.name, level, d, centre });
      const title = s("title", {}, `${props.name || props.code}（${props.code}）`);
      if (level === "district") base.append(s("path", { d, class: "region district-fill", "data-code": props.code }, title));
      outlines.append(s("path", { d, class: `region-outline ${level}`, "data-testid": "map-region", "data-code": props.code, "data-level": level }));
      if (level !== "grid" && props.name) {
        const [x, y] = centre;
        labels.append(s("text", { x: x.toFixed(1), y: y.toFixed(1), class: `map-label ${level}` }, props.name));
      }
    }
    this.highlights = s("g", { class: "map-highlights" });
    this.markers = s("g", { class: "map-markers" });
    this.svg = s(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${height.toFixed(0)}`, role: "img", "aria-label": "城市区域与预警分布图", preserveAspectRatio: "xMidYMid meet" },
      base, this.highlights, outlines, labels, this.markers,
    );
    this.container.replaceChildren(this.svg);
    this.render();
  }

  /** The drawn region a warning belongs to: its own code, else its street, else its district. */
  #regionOf(view) {
    const code = String(view.region_code || "");
    for (const candidate of [code, code.slice(0, 9), code.slice(0, 6), view.district_code]) {
      if (candidate && this.regions.has(candidate)) return [candidate, this.regions.get(candidate)];
    }
    return [null, null];
  }

  render() {
    if (!this.svg) return;
    const open = this.state.sorted().filter((view) => !TERMINAL_STATUSES.has(view.status));
    const top = new Map(); // region code -> the most serious open warning there
    const markers = [];
    const perRegion = new Map();
    for (const view of open) {
      const [code, region] = this.#regionOf(view);
      const current = code ? top.get(code) : null;
      if (code && (!current || LEVEL_RANK[view.level] > LEVEL_RANK[current.level])) top.set(code, view);
      const point = view.centroid ? this.proj.project(view.centroid) : region?.centre;
      if (!point) continue;
      const key = code || point.join(",");
      const index = perRegion.get(key) || 0;
      perRegion.set(key, index + 1);
      markers.push(this.#marker(view, point, index));
    }
    const fills = [...top.entries()].map(([code, view]) => {
      const info = LEVEL_INFO[view.level] || { colour: "grey", name: view.level };
      return s(
        "path",
        {
          d: this.regions.get(code).d,
          class: `region-warning level-${info.colour}${view.warning_id === this.state.selectedId ? " selected" : ""}`,
          "data-testid": "map-warning-region",
          "data-code": code,
          "data-warning-id": view.warning_id,
          onclick: () => this.state.select(view.warning_id),
        },
        s("title", {}, `${info.name} ${view.title}`),
      );
    });
    this.highlights.replaceChildren(...fills);
    this.markers.replaceChildren(...markers.reverse()); // most recent drawn last, on top
  }

  #marker(view, [x, y], index) {
    const info = LEVEL_INFO[view.level] || { colour: "grey", name: view.level };
    const angle = index * 2.4; // spread markers that share a region on a small spiral
    const r = index ? 10 + 4 * Math.sqrt(index) : 0;
    const selected = view.warning_id === this.state.selectedId;
    return s(
      "g",
      {
        class: `map-marker level-${info.colour}${selected ? " selected" : ""}`,
        transform: `translate(${(x + r * Math.cos(angle)).toFixed(1)},${(y + r * Math.sin(angle)).toFixed(1)})`,
        "data-testid": "map-marker",
        "data-warning-id": view.warning_id,
        tabindex: "0",
        role: "button",
        "aria-label": `${info.name} ${view.title}`,
        onclick: () => this.state.select(view.warning_id),
        onkeydown: (event) => {
          if (event.key === "Enter") this.state.select(view.warning_id);
        },
      },
      s("circle", { r: selected ? 13 : 9, class: "marker-dot" }),
      s("title", {}, `${info.name} ${view.title}`),
    );
  }
}
