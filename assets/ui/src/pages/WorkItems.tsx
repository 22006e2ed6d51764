// Work items with filters kept in the query string (bookmarkable) and keyset paging.
import { FormEvent, useEffect, useState } from "react";
import { api, ApiError, Page, WorkItemRow } from "../api";
import { duration, when } from "../format";
import { linkProps, navigate } from "../router";

const FILTERS = [
  { name: "q", label: "Text" },
  { name: "project", label: "Project key" },
  { name: "status", label: "Status" },
  { name: "type", label: "Type" },
  { name: "assignee", label: "Assignee" },
] as const;

export function WorkItems({ query }: { query: URLSearchParams }) {
  const [rows, setRows] = useState<WorkItemRow[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = query.toString();

  useEffect(() => {
    setRows(null);
    setError(null);
    const params = new URLSearchParams(search);
    params.set("limit", "50");
    api
      .get<Page<WorkItemRow>>(`/work-items?${params}`)
      .then((page) => {
        setRows(page.items);
        setCursor(page.next_cursor);
      })
      .catch((failure) => setError(failure instanceof ApiError ? failure.message : String(failure)));
  }, [search]);

  async function more() {
    if (!cursor) return;
    const params = new URLSearchParams(search);
    params.set("limit", "50");
    params.set("cursor", cursor);
    const page = await api.get<Page<WorkItemRow>>(`/work-items?${params}`);
    setRows((current) => [...(current ?? []), ...page.items]);
    setCursor(page.next_cursor);
  }

  function filter(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const params = new URLSearchParams();
    for (const { name } of FILTERS) {
      const value = String(data.get(name) ?? "").trim();
      if (value) params.set(name, value);
    }
    navigate(`/work-items${params.size ? `?${params}` : ""}`);
  }

  return (
    <>
      <h1>Work items</h1>
      <form className="filters" onSubmit={filter} key={search}>
        {FILTERS.map(({ name, label }) => (
          <label key={name}>
            {label}
            <input name={name} defaultValue={query.get(name) ?? ""} />
          </label>
        ))}
        <button type="submit">Filter</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {rows === null && !error && <p className="loading">Loading…</p>}
      {rows !== null && rows.length === 0 && <p>No work item matches.</p>}
      {rows !== null && rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th><th scope="col">Summary</th><th scope="col">Type</th>
              <th scope="col">Status</th><th scope="col">Assignee</th><th scope="col">Updated</th>
              <th scope="col">Cycle</th><th scope="col">Lead</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                <td><a {...linkProps(`/work-items/${encodeURIComponent(row.key)}`)}>{row.key}</a></td>
                <td>{row.summary}</td>
                <td>{row.type}</td>
                <td><span className={`category ${row.status_category}`}>{row.status}</span></td>
                <td>{row.assignee ?? "—"}</td>
                <td>{when(row.updated)}</td>
                <td>{duration(row.total_cycle_time_seconds)}</td>
                <td>{duration(row.total_lead_time_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && <button type="button" onClick={more}>Load more</button>}
    </>
  );
}
