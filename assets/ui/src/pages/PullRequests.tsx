// Pull requests: filters in the query string, keyset paging, and one in full with its
// reviews, commits, comments and flow metrics.
import { FormEvent, useEffect, useState } from "react";
import { client, load, Schemas } from "../api";
import { Status } from "../components";
import { duration, when } from "../format";
import { errorText, useApi } from "../hooks";
import { linkProps, submitFilters } from "../router";

type Pr = Schemas["PrRow"];

/** A page of pull requests as the query string filters them. */
function prs(params: URLSearchParams) {
  const query = Object.fromEntries(params) as Record<string, string>;
  return load(client.GET("/api/v1/prs", { params: { query: { ...query, limit: 50 } } }));
}

const FILTERS = [
  { name: "repository", label: "Repository (owner/name)" },
  { name: "state", label: "State (open, closed)" },
  { name: "author", label: "Author" },
] as const;

export function PullRequests({ query }: { query: URLSearchParams }) {
  const [rows, setRows] = useState<Pr[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = query.toString();
  useEffect(() => {
    setRows(null);
    prs(new URLSearchParams(search))
      .then((page) => {
        setRows(page.items);
        setCursor(page.next_cursor ?? null);
      })
      .catch((failure) => setError(errorText(failure)));
  }, [search]);

  async function more() {
    const params = new URLSearchParams(search);
    params.set("cursor", cursor ?? "");
    const page = await prs(params);
    setRows((current) => [...(current ?? []), ...page.items]);
    setCursor(page.next_cursor ?? null);
  }

  function filter(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    submitFilters(
      event.currentTarget,
      "/prs",
      FILTERS.map((f) => f.name),
    );
  }

  return (
    <>
      <h1>Pull requests</h1>
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
      {rows?.length === 0 && <p>No pull request matches.</p>}
      {rows && rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Pull request</th>
              <th scope="col">Title</th>
              <th scope="col">State</th>
              <th scope="col">Author</th>
              <th scope="col">Pickup</th>
              <th scope="col">Review</th>
              <th scope="col">Cycle</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((pr) => (
              <tr key={pr.id}>
                <td>
                  <a {...linkProps(`/prs/${pr.id}`)}>
                    {pr.repository}#{pr.number}
                  </a>
                </td>
                <td>{pr.title}</td>
                <td>{pr.merged_at ? "merged" : pr.state}</td>
                <td>{pr.author_login ?? "—"}</td>
                <td>{duration(pr.pickup_time_seconds)}</td>
                <td>{duration(pr.review_time_seconds)}</td>
                <td>{duration(pr.cycle_time_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={more}>
          Load more
        </button>
      )}
    </>
  );
}

export function PullRequestDetail({ id }: { id: string }) {
  const loaded = useApi(`pr ${id}`, () => client.GET("/api/v1/prs/{id}", { params: { path: { id: Number(id) } } }));
  return (
    <Status loaded={loaded}>
      {(pr) => (
        <article>
          <p>
            <a {...linkProps("/prs")}>← Pull requests</a>
          </p>
          <h1>
            {pr.repository}#{pr.number}: {pr.title}
          </h1>
          <p className="muted">
            {pr.merged_at ? `merged ${when(pr.merged_at)}` : pr.state} · {pr.author_login ?? "unknown author"}
          </p>
          <dl className="metrics">
            <div>
              <dt>Coding time</dt>
              <dd>{duration(pr.coding_time_seconds)}</dd>
            </div>
            <div>
              <dt>Pickup time</dt>
              <dd>{duration(pr.pickup_time_seconds)}</dd>
            </div>
            <div>
              <dt>Review time</dt>
              <dd>{duration(pr.review_time_seconds)}</dd>
            </div>
            <div>
              <dt>Cycle time</dt>
              <dd>{duration(pr.cycle_time_seconds)}</dd>
            </div>
          </dl>
          {pr.body && <p className="description">{pr.body}</p>}
          <h2>Reviews ({pr.reviews.length})</h2>
          <ul>
            {pr.reviews.map((r, i) => (
              <li key={i}>
                {r.author_login ?? "?"}: {r.state} · {when(r.submitted_at)}
              </li>
            ))}
          </ul>
          <h2>Commits ({pr.commits.length})</h2>
          <ul>
            {pr.commits.map((c) => (
              <li key={c.sha}>
                <code>{c.sha.slice(0, 8)}</code> {c.message} · {c.author_login ?? "?"}
              </li>
            ))}
          </ul>
          <h2>Comments ({pr.comments.length})</h2>
          <ul>
            {pr.comments.map((c, i) => (
              <li key={i}>
                {c.author_login ?? "?"} ({c.comment_type}, {when(c.comment_created_at)}): {c.body}
              </li>
            ))}
          </ul>
        </article>
      )}
    </Status>
  );
}
