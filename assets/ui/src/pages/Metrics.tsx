// Flow metrics: work item cycle and lead time distributions by project, type, week or team
// (and their trend), throughput and rework; pull request pickup, review and cycle times by
// repository, week or team. The grouping is in the query string.
import { client } from "../api";
import type { operations } from "../schema";
import { BarChart, LineChart } from "../charts";
import { Select, Status } from "../components";
import { duration } from "../format";
import { useApi } from "../hooks";
import { navigate } from "../router";

export function Metrics({ query }: { query: URLSearchParams }) {
  const groupBy = query.get("group_by") ?? "project";
  const prGroupBy = query.get("pr_group_by") ?? "repository";
  type FlowGrouping = NonNullable<NonNullable<operations["work_item_flow"]["parameters"]["query"]>["group_by"]>;
  type PrGrouping = NonNullable<NonNullable<operations["pr_flow"]["parameters"]["query"]>["group_by"]>;
  const flow = useApi(`flow ${groupBy}`, () =>
    client.GET("/api/v1/metrics/flow", { params: { query: { group_by: groupBy as FlowGrouping } } }),
  );
  const trend = useApi("flow week", () =>
    client.GET("/api/v1/metrics/flow", { params: { query: { group_by: "week" } } }),
  );
  const prs = useApi(`prs ${prGroupBy}`, () =>
    client.GET("/api/v1/metrics/prs", { params: { query: { group_by: prGroupBy as PrGrouping } } }),
  );
  const set = (name: string, value: string) => {
    const params = new URLSearchParams(query);
    params.set(name, value);
    navigate(`/flow?${params}`, true);
  };
  return (
    <>
      <h1>Flow metrics</h1>
      <div className="filters">
        <Select
          label="Work items by"
          value={groupBy}
          options={[
            ["project", "Project"],
            ["type", "Type"],
            ["week", "Week"],
            ["team", "Team"],
          ]}
          onChange={(v) => set("group_by", v)}
        />
        <Select
          label="Pull requests by"
          value={prGroupBy}
          options={[
            ["repository", "Repository"],
            ["week", "Week"],
            ["team", "Team"],
          ]}
          onChange={(v) => set("pr_group_by", v)}
        />
      </div>
      <Status loaded={flow}>
        {(page) =>
          page.items.length === 0 ? (
            <p>No completed work item yet.</p>
          ) : (
            <>
              <BarChart
                title="Cycle time (p50, p85, p95)"
                groups={page.items.map((f) => f.group)}
                series={[
                  { label: "p50", values: page.items.map((f) => f.cycle_time_p50) },
                  { label: "p85", values: page.items.map((f) => f.cycle_time_p85) },
                  { label: "p95", values: page.items.map((f) => f.cycle_time_p95) },
                ]}
              />
              <table>
                <thead>
                  <tr>
                    <th scope="col">{groupBy}</th>
                    <th scope="col">Throughput</th>
                    <th scope="col">Cycle p50</th>
                    <th scope="col">Cycle p85</th>
                    <th scope="col">Lead p50</th>
                    <th scope="col">Lead p85</th>
                    <th scope="col">Rework</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((f) => (
                    <tr key={f.group}>
                      <th scope="row">{f.group}</th>
                      <td>{f.throughput}</td>
                      <td>{duration(f.cycle_time_p50)}</td>
                      <td>{duration(f.cycle_time_p85)}</td>
                      <td>{duration(f.lead_time_p50)}</td>
                      <td>{duration(f.lead_time_p85)}</td>
                      <td>{(100 * f.rework_rate).toFixed(0)} %</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )
        }
      </Status>
      <Status loaded={trend}>
        {(page) =>
          page.items.length > 1 && (
            <LineChart
              title="Cycle and lead time by week of completion (p50)"
              points={page.items.map((f) => f.group)}
              series={[
                { label: "cycle p50", values: page.items.map((f) => f.cycle_time_p50) },
                { label: "lead p50", values: page.items.map((f) => f.lead_time_p50) },
              ]}
            />
          )
        }
      </Status>
      <h2>Pull requests</h2>
      <Status loaded={prs}>
        {(page) =>
          page.items.length === 0 ? (
            <p>No merged pull request yet.</p>
          ) : (
            <BarChart
              title="Pickup, review and cycle time (p50)"
              groups={page.items.map((f) => f.group)}
              series={[
                { label: "pickup p50", values: page.items.map((f) => f.pickup_time_p50) },
                { label: "review p50", values: page.items.map((f) => f.review_time_p50) },
                { label: "cycle p50", values: page.items.map((f) => f.cycle_time_p50) },
              ]}
            />
          )
        }
      </Status>
    </>
  );
}
