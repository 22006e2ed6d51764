// Delivery analytics: the four DORA keys over a window as tiles with their performance
// bands, their weekly trend and per repository or team, and — a tile chosen — the
// deployments, changes or incidents behind the number. The window, the comparison and the
// chosen tile are in the query string.
import { client, Schemas } from "../api";
import { LineChart } from "../charts";
import { Select, Status } from "../components";
import { duration, when } from "../format";
import { useApi } from "../hooks";
import { linkProps, navigate } from "../router";

type Group = Schemas["DoraGroup"];
type Band = Schemas["Band"];
type Key = "deployments" | "changes" | "failures" | "incidents";

const WINDOWS: [string, string][] = [
  ["all", "Since the first deployment"],
  ["4", "Last 4 weeks"],
  ["12", "Last 12 weeks"],
  ["52", "Last 52 weeks"],
];

/** The window's start for the API (none: since the first production deployment). */
function since(weeks: string): string | undefined {
  if (weeks === "all") return undefined;
  return new Date(Date.now() - Number(weeks) * 7 * 86_400_000).toISOString();
}

function BandBadge({ band }: { band: Band | null | undefined }) {
  return band ? <span className={`badge band-${band}`}>{band}</span> : <span className="muted">no data</span>;
}

function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? "—" : `${(100 * rate).toFixed(1)} %`;
}

function Tiles({ all, chosen, choose }: { all: Group; chosen: Key | null; choose: (key: Key) => void }) {
  const tiles: { key: Key; title: string; value: string; detail: string; band: Band | null | undefined }[] = [
    {
      key: "deployments",
      title: "Deployment frequency",
      value: `${all.deployments_per_week.toFixed(2)} / week`,
      detail: `${all.deployments} production deployments`,
      band: all.deployment_frequency_band,
    },
    {
      key: "changes",
      title: "Lead time for changes",
      value: duration(all.lead_time_seconds_p50),
      detail: `median of ${all.changes} changes (merge → deployed ${duration(all.merge_to_deploy_seconds_p50)})`,
      band: all.lead_time_band,
    },
    {
      key: "failures",
      title: "Change failure rate",
      value: percent(all.change_failure_rate),
      detail: `${all.failed_deployments} of ${all.deployments} deployments failed`,
      band: all.change_failure_band,
    },
    {
      key: "incidents",
      title: "Failed deployment recovery time",
      value: duration(all.time_to_restore_seconds_p50),
      detail: `median of ${all.incidents} incidents resolved`,
      band: all.time_to_restore_band,
    },
  ];
  return (
    <div className="tiles">
      {tiles.map((tile) => (
        <button
          type="button"
          key={tile.key}
          className="tile"
          aria-pressed={chosen === tile.key}
          onClick={() => choose(tile.key)}
        >
          <span className="tile-title">{tile.title}</span>
          <span className="tile-value">{tile.value}</span>
          <BandBadge band={tile.band} />
          <span className="muted">{tile.detail}</span>
        </button>
      ))}
    </div>
  );
}

/** What stands behind a tile's number. */
function Behind({ chosen, window }: { chosen: Key; window: { since?: string } }) {
  const query = { ...window, limit: 100 };
  const deployments = useApi(
    chosen === "deployments" || chosen === "failures" ? `deployments ${window.since}` : null,
    () => client.GET("/api/v1/metrics/dora/deployments", { params: { query } }),
  );
  const changes = useApi(chosen === "changes" ? `changes ${window.since}` : null, () =>
    client.GET("/api/v1/metrics/dora/changes", { params: { query } }),
  );
  const incidents = useApi(chosen === "incidents" ? `incidents ${window.since}` : null, () =>
    client.GET("/api/v1/metrics/dora/incidents", { params: { query } }),
  );
  if (chosen === "deployments" || chosen === "failures")
    return (
      <Status loaded={deployments}>
        {(page) => (
          <table aria-label="Production deployments, newest first">
            <thead>
              <tr>
                <th scope="col">Finished</th>
                <th scope="col">Repository</th>
                <th scope="col">Deployment</th>
                <th scope="col">Changes</th>
                <th scope="col">Failed</th>
              </tr>
            </thead>
            <tbody>
              {page.items
                .filter((d) => chosen === "deployments" || d.rolled_back || d.incidents.length > 0)
                .map((d) => (
                  <tr key={d.id}>
                    <td>{when(d.finished_at)}</td>
                    <td>{d.repository}</td>
                    <td>{d.description ?? d.commit_sha?.slice(0, 10)}</td>
                    <td>{d.changes}</td>
                    <td>
                      {d.rolled_back && "rolled back "}
                      {d.incidents.map((key) => (
                        <a key={key} {...linkProps(`/work-items/${encodeURIComponent(key)}`)}>
                          {key}{" "}
                        </a>
                      ))}
                      {!d.rolled_back && d.incidents.length === 0 && "—"}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
      </Status>
    );
  if (chosen === "changes")
    return (
      <Status loaded={changes}>
        {(page) => (
          <table aria-label="Changes shipped, newest first">
            <thead>
              <tr>
                <th scope="col">Pull request</th>
                <th scope="col">First commit</th>
                <th scope="col">Merged</th>
                <th scope="col">Deployed</th>
                <th scope="col">Lead time</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((c) => (
                <tr key={c.pr_id}>
                  <td>
                    <a {...linkProps(`/prs/${c.pr_id}`)}>
                      {c.repository}#{c.number}
                    </a>{" "}
                    {c.title}
                  </td>
                  <td>{when(c.first_commit_at)}</td>
                  <td>{when(c.merged_at)}</td>
                  <td>{when(c.deployed_at)}</td>
                  <td>{duration(c.lead_time_seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
    );
  return (
    <Status loaded={incidents}>
      {(page) => (
        <table aria-label="Incidents resolved, newest first">
          <thead>
            <tr>
              <th scope="col">Incident</th>
              <th scope="col">Opened</th>
              <th scope="col">Resolved</th>
              <th scope="col">Recovery</th>
              <th scope="col">Repositories</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((i) => (
              <tr key={i.key}>
                <td>
                  <a {...linkProps(`/work-items/${encodeURIComponent(i.key)}`)}>{i.key}</a> {i.summary}
                </td>
                <td>{when(i.opened_at)}</td>
                <td>{when(i.resolved_at)}</td>
                <td>{duration(i.restore_seconds)}</td>
                <td>{i.repositories.join(", ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Status>
  );
}

export function Delivery({ query }: { query: URLSearchParams }) {
  const weeks = query.get("weeks") ?? "all";
  const chosen = (query.get("key") as Key | null) ?? null;
  const window = { since: since(weeks) };
  const whole = useApi(`dora ${weeks}`, () => client.GET("/api/v1/metrics/dora", { params: { query: window } }));
  const byWeek = useApi(`dora week ${weeks}`, () =>
    client.GET("/api/v1/metrics/dora", { params: { query: { ...window, group_by: "week" } } }),
  );
  const compare = query.get("compare") === "team" ? "team" : "repository";
  const byGroup = useApi(`dora ${compare} ${weeks}`, () =>
    client.GET("/api/v1/metrics/dora", { params: { query: { ...window, group_by: compare } } }),
  );
  const set = (name: string, value: string) => {
    const params = new URLSearchParams(query);
    params.set(name, value);
    navigate(`/delivery?${params}`, true);
  };
  return (
    <>
      <h1>Delivery (DORA)</h1>
      <div className="filters">
        <Select label="Window" value={weeks} options={WINDOWS} onChange={(v) => set("weeks", v)} />
      </div>
      <Status loaded={whole}>
        {(report) =>
          report.groups.length === 0 ? (
            <p>No production deployment in this window yet.</p>
          ) : (
            <Tiles all={report.groups[0]} chosen={chosen} choose={(key) => set("key", key)} />
          )
        }
      </Status>
      {chosen && <Behind chosen={chosen} window={window} />}
      <h2>Week by week</h2>
      <Status loaded={byWeek}>
        {(report) =>
          report.groups.length > 1 ? (
            <LineChart
              title="Lead time and recovery time by week (p50)"
              points={report.groups.map((g) => g.group)}
              series={[
                { label: "lead time p50", values: report.groups.map((g) => g.lead_time_seconds_p50) },
                { label: "recovery p50", values: report.groups.map((g) => g.time_to_restore_seconds_p50) },
              ]}
            />
          ) : (
            <p>Not enough weeks yet.</p>
          )
        }
      </Status>
      <h2>By {compare}</h2>
      <div className="filters">
        <Select
          label="Compare by"
          value={compare}
          options={[
            ["repository", "Repository"],
            ["team", "Team"],
          ]}
          onChange={(v) => set("compare", v)}
        />
      </div>
      <Status loaded={byGroup} empty={compare === "team" && byGroup.data?.groups.length === 0}>
        {(report) => (
          <table>
            <thead>
              <tr>
                <th scope="col">{compare === "team" ? "Team" : "Repository"}</th>
                <th scope="col">Deployments / week</th>
                <th scope="col">Lead time p50</th>
                <th scope="col">Failure rate</th>
                <th scope="col">Recovery p50</th>
              </tr>
            </thead>
            <tbody>
              {report.groups.map((g) => (
                <tr key={g.group}>
                  <th scope="row">{g.group}</th>
                  <td>
                    {g.deployments_per_week.toFixed(2)} <BandBadge band={g.deployment_frequency_band} />
                  </td>
                  <td>
                    {duration(g.lead_time_seconds_p50)} <BandBadge band={g.lead_time_band} />
                  </td>
                  <td>
                    {percent(g.change_failure_rate)} <BandBadge band={g.change_failure_band} />
                  </td>
                  <td>
                    {duration(g.time_to_restore_seconds_p50)} <BandBadge band={g.time_to_restore_band} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
    </>
  );
}
