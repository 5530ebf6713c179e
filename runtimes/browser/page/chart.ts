// A small inline-SVG line chart for the latency and throughput results.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const HEIGHT = 160;
const PAD = { left: 48, right: 8, top: 24, bottom: 22 };

function element<K extends keyof SVGElementTagNameMap>(
  name: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function format(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Draw `values` (y) against their index into `svg`, with a title and a y-axis unit. */
export function drawChart(svg: SVGSVGElement, title: string, unit: string, values: number[]): void {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  svg.append(element("text", { x: PAD.left, y: 12, class: "chart-title" }, title));
  if (values.length === 0) return;
  const max = Math.max(...values) || 1;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (values.length === 1 ? plotW / 2 : (i / (values.length - 1)) * plotW);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  for (const fraction of [0, 0.5, 1]) {
    const yy = y(max * fraction);
    svg.append(element("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: yy, y2: yy, class: "chart-grid" }));
    svg.append(
      element(
        "text",
        { x: PAD.left - 4, y: yy + 4, "text-anchor": "end", class: "chart-label" },
        format(max * fraction),
      ),
    );
  }
  svg.append(
    element("text", { x: PAD.left - 4, y: PAD.top - 6, "text-anchor": "end", class: "chart-label" }, unit),
    element(
      "text",
      { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end", class: "chart-label" },
      `${values.length} samples`,
    ),
  );
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  svg.append(element("polyline", { points, class: "chart-line" }));
}
