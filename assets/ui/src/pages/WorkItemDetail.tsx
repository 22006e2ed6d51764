// One work item: its status timeline drawn from the changelog, the fifteen workflow
// metrics, mapped custom fields and linked pull requests.
import { useEffect, useState } from "react";
import { client, load, Schemas } from "../api";
import { errorText } from "../hooks";
import { duration, sourceLink, when } from "../format";
import { linkProps } from "../router";

type Detail = Schemas["WorkItemDetail"];

const METRIC_LABELS: Record<string, string> = {
  work_first_committed_at: "First committed",
  work_first_started_at: "First started",
  work_last_started_at: "Last started",
  work_first_completed_at: "First completed",
  work_last_completed_at: "Last completed",
  total_work_starts: "Work starts",
  total_completions: "Completions",
  total_backlog_returns: "Backlog returns",
  total_work_time_seconds: "Work time",
  total_review_time_seconds: "Review time",
  total_cycle_time_seconds: "Cycle time",
  total_lead_time_seconds: "Lead time",
  workflow_complexity_score: "Complexity",
  rework_indicator: "Rework",
  direct_completion: "Direct completion",
};

function metric(name: string, value: string | number | boolean | null): string {
  if (value === null) return "—";
  if (name.endsWith("_seconds")) return duration(Number(value));
  if (name.endsWith("_at")) return when(String(value));
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

export function WorkItemDetail({ itemKey }: { itemKey: string }) {
  const [item, setItem] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setItem(null);
    load(client.GET("/api/v1/work-items/{key}", { params: { path: { key: itemKey } } }))
      .then(setItem)
      .catch((failure) => setError(errorText(failure)));
  }, [itemKey]);

  if (error)
    return (
      <p role="alert" className="error">
        {error} <a {...linkProps("/work-items")}>Back to work items</a>
      </p>
    );
  if (!item) return <p className="loading">Loading {itemKey}…</p>;
  const longest = Math.max(1, ...item.timeline.map((t) => t.time_in_status_seconds));
  return (
    <article>
      <p>
        <a {...linkProps("/work-items")}>← Work items</a>
      </p>
      <h1>
        {item.key}: {item.summary}
      </h1>
      <p className="muted">
        {item.project_key} · {item.type} · {item.status} · {item.assignee ?? "unassigned"}
      </p>
      {item.description && <p className="description">{item.description}</p>}

      <h2>Status timeline</h2>
      {item.timeline.length === 0 ? (
        <p>No status change yet.</p>
      ) : (
        <ol className="timeline">
          {item.timeline.map((t, index) => (
            <li key={index}>
              <span className="when">{when(t.transition_change_date)}</span>
              <span>
                {t.from_status ?? "?"} → <strong>{t.to_status ?? "?"}</strong>
              </span>
              <span
                className="bar"
                style={{ width: `${(100 * t.time_in_status_seconds) / longest}%` }}
                aria-hidden="true"
              />
              <span className="muted">
                {duration(t.time_in_status_seconds)} in {t.from_status ?? "?"}
                {t.author ? ` · ${t.author}` : ""}
              </span>
            </li>
          ))}
        </ol>
      )}

      <h2>Workflow metrics</h2>
      <dl className="metrics">
        {Object.entries(METRIC_LABELS).map(([name, label]) => (
          <div key={name}>
            <dt>{label}</dt>
            <dd>{metric(name, item.metrics[name as keyof Detail["metrics"]] ?? null)}</dd>
          </div>
        ))}
      </dl>

      <h2>Custom fields</h2>
      {item.custom_fields.length === 0 ? (
        <p>No mapped custom field has a value.</p>
      ) : (
        <dl className="metrics">
          {item.custom_fields.map((f) => (
            <div key={f.slot}>
              <dt>{f.name}</dt>
              <dd>{f.value}</dd>
            </div>
          ))}
        </dl>
      )}

      <h2>Linked pull requests</h2>
      {item.linked_prs.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul>
          {item.linked_prs.map((pr) => (
            <li key={pr.pr_url}>
              <a href={sourceLink(pr.pr_url)} rel="noreferrer">
                {pr.repository}#{pr.number}
              </a>{" "}
              {pr.title} <span className="muted">{pr.pr_status}</span>
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}
