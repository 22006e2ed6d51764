// Small SVG charts drawn here (no chart library to download): grouped horizontal bars and
// a line per series. Each comes with a text summary for screen readers.

const COLOURS = ["#7aa2e3", "#2f6bc4", "#163a75"];

export interface Series {
  label: string;
  values: (number | null | undefined)[];
}

function days(seconds: number): string {
  return `${(seconds / 86400).toFixed(1)} d`;
}

export function BarChart({ title, groups, series }: { title: string; groups: string[]; series: Series[] }) {
  const max = Math.max(1, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const rowHeight = 8 + series.length * 10;
  const height = groups.length * rowHeight + 24;
  return (
    <figure>
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 640 ${height}`}
        role="img"
        aria-label={`${title}: ${groups.map((g, i) => `${g} ${series.map((s) => `${s.label} ${days(s.values[i] ?? 0)}`).join(", ")}`).join("; ")}`}
      >
        {groups.map((group, row) => (
          <g key={group} transform={`translate(0, ${row * rowHeight})`}>
            <text x="0" y={rowHeight / 2 + 4} fontSize="11">
              {group.slice(0, 18)}
            </text>
            {series.map((s, i) => (
              <rect
                key={s.label}
                x="130"
                y={4 + i * 10}
                height="8"
                width={(480 * (s.values[row] ?? 0)) / max}
                fill={COLOURS[i % COLOURS.length]}
              />
            ))}
          </g>
        ))}
        <text x="130" y={height - 6} fontSize="10">
          0
        </text>
        <text x="610" y={height - 6} fontSize="10" textAnchor="end">
          {days(max)}
        </text>
      </svg>
      <Legend series={series} />
    </figure>
  );
}

export function LineChart({ title, points, series }: { title: string; points: string[]; series: Series[] }) {
  const max = Math.max(1, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const x = (i: number) => 40 + (points.length < 2 ? 0 : (560 * i) / (points.length - 1));
  const y = (v: number) => 180 - (160 * v) / max;
  return (
    <figure>
      <figcaption>{title}</figcaption>
      <svg viewBox="0 0 640 210" role="img" aria-label={`${title} over ${points.length} weeks, up to ${days(max)}`}>
        <line x1="40" y1="180" x2="600" y2="180" stroke="#8a94a6" />
        <text x="36" y="24" fontSize="10" textAnchor="end">
          {days(max)}
        </text>
        {series.map((s, i) => (
          <polyline
            key={s.label}
            fill="none"
            stroke={COLOURS[i % COLOURS.length]}
            strokeWidth="2"
            points={s.values.map((v, j) => `${x(j)},${y(v ?? 0)}`).join(" ")}
          />
        ))}
        {points.length > 0 && (
          <text x="40" y="198" fontSize="10">
            {points[0]}
          </text>
        )}
        {points.length > 1 && (
          <text x="600" y="198" fontSize="10" textAnchor="end">
            {points[points.length - 1]}
          </text>
        )}
      </svg>
      <Legend series={series} />
    </figure>
  );
}

function Legend({ series }: { series: Series[] }) {
  return (
    <p className="legend">
      {series.map((s, i) => (
        <span key={s.label}>
          <span className="swatch" style={{ background: COLOURS[i % COLOURS.length] }} aria-hidden="true" /> {s.label}
        </span>
      ))}
    </p>
  );
}
