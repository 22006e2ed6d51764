// Search over the tenant's work items and pull requests — by words and meaning (hybrid, the
// default), meaning only or words only, with filters; the query in the URL, so a search can
// be bookmarked — how far the embedding is, and — for admins — the embedding
// provider and model.
import { FormEvent } from "react";
import { client, load, Me, Schemas } from "../api";
import type { operations } from "../schema";
import { Status } from "../components";
import { useAction, useApi } from "../hooks";
import { linkProps, submitFilters } from "../router";

type Hit = Schemas["SearchHit"];

const FILTERS = [
  "q",
  "mode",
  "source",
  "project",
  "type",
  "status",
  "status_category",
  "assignee",
  "updated_from",
  "updated_to",
] as const;

const MATCHED: Record<Hit["matched"], string> = {
  key: "its key",
  lexical: "words",
  semantic: "meaning",
  both: "words and meaning",
};

// A date input's day as the start (from) or end (to) of that day in UTC.
function dayBound(day: string, end: boolean): string {
  return `${day}T${end ? "23:59:59" : "00:00:00"}Z`;
}

/** The search's query parameters, or null without words to look for. */
function searchParams(query: URLSearchParams): URLSearchParams | null {
  const q = query.get("q");
  if (!q) return null;
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = query.get(name);
    if (!value) continue;
    params.set(name, name.startsWith("updated_") ? dayBound(value, name === "updated_to") : value);
  }
  params.set("limit", "20");
  return params;
}

export function Search({ me, query }: { me: Me; query: URLSearchParams }) {
  const status = useApi("vectors", () => client.GET("/api/v1/vectors/status"));
  const sources = useApi("sources", () => client.GET("/api/v1/sources"));
  const search = searchParams(query);
  const results = useApi(search && search.toString(), () =>
    client.GET("/api/v1/search", {
      params: { query: Object.fromEntries(search ?? []) as unknown as operations["search"]["parameters"]["query"] },
    }),
  );
  const { message, run } = useAction(status.reload);

  function configure(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const provider = String(form.get("provider"));
    const text = (name: string) => String(form.get(name) ?? "").trim() || undefined;
    const body =
      provider === "local"
        ? { provider }
        : { provider, model: text("model"), base_url: text("base_url"), api_key: text("api_key") };
    run(
      () => load(client.PUT("/api/v1/embedding", { body: body as Schemas["EmbeddingInput"] })),
      "Embedding settings saved: the next sync embeds with them.",
    );
  }

  return (
    <>
      <h1>Search</h1>
      <form
        className="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          submitFilters(event.currentTarget, "/search", FILTERS);
        }}
      >
        <label>
          Words
          <input name="q" type="search" defaultValue={query.get("q") ?? ""} required />
        </label>
        <label>
          Source
          <select name="source" defaultValue={query.get("source") ?? ""}>
            <option value="">All</option>
            {(sources.data?.items ?? []).map((s) => (
              <option key={s.provider} value={s.provider}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Match by
          <select name="mode" defaultValue={query.get("mode") ?? ""}>
            <option value="">Words and meaning</option>
            <option value="semantic">Meaning only</option>
            <option value="lexical">Words only</option>
          </select>
        </label>
        <label>
          Project or repository
          <input name="project" defaultValue={query.get("project") ?? ""} />
        </label>
        <label>
          Type
          <input name="type" placeholder="Bug" defaultValue={query.get("type") ?? ""} />
        </label>
        <label>
          Status
          <input name="status" defaultValue={query.get("status") ?? ""} />
        </label>
        <label>
          Status category
          <select name="status_category" defaultValue={query.get("status_category") ?? ""}>
            <option value="">Any</option>
            <option value="new">To do</option>
            <option value="indeterminate">In progress</option>
            <option value="done">Done</option>
          </select>
        </label>
        <label>
          Assignee
          <input name="assignee" defaultValue={query.get("assignee") ?? ""} />
        </label>
        <label>
          Updated from
          <input name="updated_from" type="date" defaultValue={query.get("updated_from") ?? ""} />
        </label>
        <label>
          Updated to
          <input name="updated_to" type="date" defaultValue={query.get("updated_to") ?? ""} />
        </label>
        <button type="submit">Search</button>
      </form>
      {query.get("q") && (
        <Status loaded={results} empty={results.data?.items.length === 0}>
          {(found) => (
            <table>
              <caption>Best matches for “{query.get("q")}”</caption>
              <thead>
                <tr>
                  <th scope="col">Score</th>
                  <th scope="col">Matched by</th>
                  <th scope="col">Key</th>
                  <th scope="col">Title</th>
                  <th scope="col">Status</th>
                  <th scope="col">In</th>
                </tr>
              </thead>
              <tbody>
                {found.items.map((hit) => (
                  <tr key={`${hit.table}-${hit.record_id}`}>
                    <td>{hit.score.toFixed(3)}</td>
                    <td>{MATCHED[hit.matched]}</td>
                    <td>
                      <a
                        {...linkProps(
                          hit.table === "prs" ? `/prs/${hit.record_id}` : `/work-items/${encodeURIComponent(hit.key)}`,
                        )}
                      >
                        {hit.key}
                      </a>
                    </td>
                    <td>{hit.title}</td>
                    <td>{hit.status}</td>
                    <td>{hit.project}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Status>
      )}
      <h2>Vectors</h2>
      {message && <p role="status">{message}</p>}
      <Status loaded={status}>
        {(s) => (
          <>
            {s.collection === null ? (
              <p>Embedding is off for this tenant{me.role === "admin" ? ": choose a provider below." : "."}</p>
            ) : (
              <p>
                Collection <code>{s.collection}</code>: {s.points} points.
              </p>
            )}
            <table>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Records</th>
                  <th scope="col">Embedded</th>
                  <th scope="col">Pending</th>
                  <th scope="col">Failed</th>
                </tr>
              </thead>
              <tbody>
                {s.tables.map((t) => (
                  <tr key={t.table}>
                    <td>{t.table === "prs" ? "Pull requests" : "Work items"}</td>
                    <td>{t.records}</td>
                    <td>{t.embedded}</td>
                    <td>{t.pending}</td>
                    <td>{t.failed}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {s.collections.length > 0 && (
              <table>
                <caption>Collections</caption>
                <thead>
                  <tr>
                    <th scope="col">Collection</th>
                    <th scope="col">State</th>
                    <th scope="col">Provider</th>
                    <th scope="col">Model</th>
                    <th scope="col">Endpoint</th>
                  </tr>
                </thead>
                <tbody>
                  {s.collections.map((c) => (
                    <tr key={c.collection}>
                      <td>{c.collection}</td>
                      <td>{c.state === "active" ? "searched" : "being built"}</td>
                      <td>{c.provider}</td>
                      <td>{c.model}</td>
                      <td>{c.base_url ?? ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </Status>
      {me.role === "admin" && (
        <>
          <h2>Embedding provider</h2>
          <form className="filters" onSubmit={configure} aria-label="Embedding provider">
            <label>
              Provider
              <select name="provider" defaultValue="local">
                <option value="local">Local model (all-MiniLM-L6-v2)</option>
                <option value="openai">OpenAI-compatible endpoint</option>
              </select>
            </label>
            <label>
              Model (endpoint only)
              <input name="model" placeholder="text-embedding-3-small" />
            </label>
            <label>
              Base URL (endpoint only)
              <input name="base_url" type="url" placeholder="https://api.openai.com" />
            </label>
            <label>
              API key (endpoint only, write-only)
              <input name="api_key" type="password" autoComplete="off" />
            </label>
            <button type="submit">Save</button>
          </form>
        </>
      )}
    </>
  );
}
