// Work items with filters kept in the query string (bookmarkable). The table is
// virtualised: only the rows in view are in the page, and scrolling near the end loads the
// next keyset page, so tens of thousands of rows scroll smoothly.
import { FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { client, load, WorkItemRow } from "../api";
import { duration, when } from "../format";
import { errorText } from "../hooks";
import { linkProps, submitFilters } from "../router";

const FILTERS = [
  { name: "q", label: "Text" },
  { name: "project", label: "Project key" },
  { name: "status", label: "Status" },
  { name: "type", label: "Type" },
  { name: "assignee", label: "Assignee" },
] as const;

/** Pixel height of one row; the window maths depend on it (see .rows in styles.css). */
const ROW = 36;
const VIEW = 600;
/** Rows per keyset page. */
const BATCH = 500;

const COLUMNS = ["Key", "Summary", "Type", "Status", "Assignee", "Updated", "Cycle", "Lead"];

export function WorkItems({ query }: { query: URLSearchParams }) {
  const [rows, setRows] = useState<WorkItemRow[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [top, setTop] = useState(0);
  const search = query.toString();
  const scroller = useRef<HTMLDivElement>(null);

  const fetchPage = useCallback(
    async (after: string | null) => {
      const query = Object.fromEntries(new URLSearchParams(search)) as Record<string, string>;
      const cursor = after ? { cursor: after } : {};
      return load(client.GET("/api/v1/work-items", { params: { query: { ...query, ...cursor, limit: BATCH } } }));
    },
    [search],
  );

  useEffect(() => {
    setRows(null);
    setError(null);
    setTop(0);
    scroller.current?.scrollTo(0, 0);
    fetchPage(null)
      .then((page) => {
        setRows(page.items);
        setCursor(page.next_cursor ?? null);
      })
      .catch((failure) => setError(errorText(failure)));
  }, [fetchPage]);

  async function more() {
    if (!cursor || loading) return;
    setLoading(true);
    try {
      const page = await fetchPage(cursor);
      setRows((current) => [...(current ?? []), ...page.items]);
      setCursor(page.next_cursor ?? null);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setLoading(false);
    }
  }

  function onScroll() {
    const element = scroller.current;
    if (!element) return;
    setTop(element.scrollTop);
    if (element.scrollTop + element.clientHeight > element.scrollHeight - 20 * ROW) void more();
  }

  function filter(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    submitFilters(
      event.currentTarget,
      "/work-items",
      FILTERS.map((f) => f.name),
    );
  }

  const first = Math.max(0, Math.floor(top / ROW) - 10);
  const visible = (rows ?? []).slice(first, first + Math.ceil(VIEW / ROW) + 20);
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
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {rows === null && !error && <p className="loading">Loading…</p>}
      {rows !== null && rows.length === 0 && <p>No work item matches.</p>}
      {rows !== null && rows.length > 0 && (
        <>
          <p className="muted" role="status">
            {rows.length}
            {cursor ? "+" : ""} work items{loading ? " (loading more…)" : ""}
          </p>
          <div className="rows-head" aria-hidden="true">
            {COLUMNS.map((column) => (
              <span key={column}>{column}</span>
            ))}
          </div>
          <div
            className="rows"
            ref={scroller}
            onScroll={onScroll}
            tabIndex={0}
            role="region"
            aria-label="Work items, scroll for more"
            style={{ height: VIEW }}
          >
            <table style={{ height: rows.length * ROW }}>
              <caption className="visually-hidden">Work items</caption>
              <thead className="visually-hidden">
                <tr>
                  {COLUMNS.map((column) => (
                    <th scope="col" key={column}>
                      {column}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody style={{ transform: `translateY(${first * ROW}px)` }}>
                {visible.map((row) => (
                  <tr key={row.id}>
                    <td>
                      <a {...linkProps(`/work-items/${encodeURIComponent(row.key)}`)}>{row.key}</a>
                    </td>
                    <td>{row.summary}</td>
                    <td>{row.type}</td>
                    <td>{row.status}</td>
                    <td>{row.assignee ?? "—"}</td>
                    <td>{when(row.updated)}</td>
                    <td>{duration(row.total_cycle_time_seconds)}</td>
                    <td>{duration(row.total_lead_time_seconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
