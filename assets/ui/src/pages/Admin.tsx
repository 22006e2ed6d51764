// Integrations (create with a connection test, disable), custom-field mapping, queues,
// users and API tokens. Viewers see the lists; the admin actions are not shown to them.
import { FormEvent, useState } from "react";
import { client, Integration, load, Me, Schemas, SourceInfo } from "../api";
import { Select, Status } from "../components";
import { when } from "../format";
import { useAction, useApi } from "../hooks";

type IntegrationRow = Integration;

/** An integration's webhooks: live or not, the last delivery, and for admins the install. */
function Webhooks({
  me,
  integration,
  run,
}: {
  me: Me;
  integration: IntegrationRow;
  run: (action: () => Promise<unknown>, done: string) => void;
}) {
  const status = useApi(`webhooks ${integration.id}`, () =>
    client.GET("/api/v1/integrations/{id}/webhooks", { params: { path: { id: integration.id } } }),
  );
  const [manual, setManual] = useState<string[]>([]);
  const origin = window.location.origin;
  const state = status.data
    ? status.data.live
      ? "live"
      : status.data.installed.length > 0
        ? "installed, no recent delivery"
        : "not installed"
    : "…";
  function install() {
    run(async () => {
      const done = await load(
        client.PUT("/api/v1/integrations/{id}/webhooks", {
          params: { path: { id: integration.id } },
          body: { public_url: origin },
        }),
      );
      setManual(done.manual);
      status.reload();
    }, `Integration ${integration.id}: webhooks installed (the rest, if any, is below to set up by hand).`);
  }
  return (
    <div>
      <span className={`badge ${status.data?.live ? "finished" : ""}`}>{state}</span>
      {status.data?.last_delivery_at && (
        <span className="muted"> · last delivery {when(status.data.last_delivery_at)}</span>
      )}
      {status.data && !status.data.live && <span className="muted"> · polling every interval</span>}
      {status.data?.last_gap_at && (
        <span className="muted">
          {" "}
          · gap found {when(status.data.last_gap_at)} ({status.data.last_gap_records} records)
        </span>
      )}
      {me.role === "admin" && (
        <details>
          <summary>Set up</summary>
          <p className="muted">
            From a shell:{" "}
            <code>
              pulse-etl integration webhooks install {integration.id} --public-url {origin}
            </code>
          </p>
          <button type="button" onClick={install}>
            Install webhooks
          </button>
          {manual.length > 0 && (
            <ul aria-label={`Webhook settings for integration ${integration.id}`}>
              {manual.map((line) => (
                <li key={line}>
                  <code>{line}</code>
                </li>
              ))}
            </ul>
          )}
        </details>
      )}
    </div>
  );
}

/** A comma-separated list field of a form, its entries trimmed, empty ones left out. */
function words(form: FormData, name: string): string[] {
  return String(form.get(name) ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** An integration's delivery rules: what counts as a production deployment and as an incident. */
function DeliveryFields({ rules }: { rules: Schemas["DeliveryRules"] }) {
  return (
    <fieldset>
      <legend>Delivery rules (DORA)</legend>
      <label>
        Production deployments are
        <select name="production" defaultValue={rules.production}>
          <option value="environment">deployments to a matching environment</option>
          <option value="releases">published releases</option>
          <option value="workflow">successful runs of a matching workflow</option>
        </select>
      </label>
      <label>
        Production environment (regular expression)
        <input name="production_environment" defaultValue={rules.production_environment} />
      </label>
      <label>
        Deploy workflow (regular expression)
        <input name="production_workflow" defaultValue={rules.production_workflow} />
      </label>
      <label>
        Incident issue types (comma-separated)
        <input name="incident_types" defaultValue={(rules.incident_types ?? []).join(", ")} />
      </label>
      <label>
        Incident labels (comma-separated)
        <input name="incident_labels" defaultValue={(rules.incident_labels ?? []).join(", ")} />
      </label>
      <label>
        Incident window (hours after a deployment)
        <input name="incident_window_hours" type="number" min={1} defaultValue={rules.incident_window_hours} />
      </label>
      <label>
        Incident JQL (Jira; when set, replaces the types and labels)
        <input name="incident_jql" defaultValue={rules.incident_jql ?? ""} />
      </label>
    </fieldset>
  );
}

/** Edits an integration: URL, account, what it reads, and (write-only) a new token. */
function EditIntegration({
  integration,
  source,
  run,
  close,
}: {
  integration: IntegrationRow;
  source: SourceInfo;
  run: (action: () => Promise<unknown>, done: string) => void;
  close: () => void;
}) {
  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: Record<string, unknown> = { base_url: String(form.get("base_url") ?? "") };
    for (const scope of source.scopes) body[scope.field] = words(form, scope.field);
    const token = String(form.get("token") ?? "");
    if (token) body.tokens = [token];
    if (source.username_label) body.username = String(form.get("username") ?? "");
    const rules = integration.settings.delivery;
    if (rules) {
      body.delivery = {
        production: String(form.get("production") ?? rules.production),
        production_environment: String(form.get("production_environment") ?? ""),
        production_workflow: String(form.get("production_workflow") ?? ""),
        incident_types: words(form, "incident_types"),
        incident_labels: words(form, "incident_labels"),
        incident_window_hours: Number(form.get("incident_window_hours")),
        incident_jql: String(form.get("incident_jql") ?? "").trim() || null,
      };
    }
    run(
      () =>
        load(
          client.PATCH("/api/v1/integrations/{id}", {
            params: { path: { id: integration.id } },
            body: body as Schemas["IntegrationUpdate"],
          }),
        ),
      `Integration ${integration.id} saved.`,
    );
    close();
  }
  return (
    <form className="filters" onSubmit={save} aria-label={`Edit integration ${integration.id}`}>
      <label>
        Base URL
        <input name="base_url" required defaultValue={integration.base_url} />
      </label>
      {source.username_label && (
        <label>
          {source.username_label}
          <input name="username" type="email" required defaultValue={integration.username ?? ""} />
        </label>
      )}
      <label>
        New API token (empty: keep)
        <input name="token" type="password" autoComplete="off" />
      </label>
      {source.scopes.map((scope) => (
        <label key={scope.field}>
          {scope.label}
          <input
            name={scope.field}
            defaultValue={(integration.settings[scope.field as "projects" | "repos"] ?? []).join(", ")}
          />
        </label>
      ))}
      {integration.settings.delivery && <DeliveryFields rules={integration.settings.delivery} />}
      <button type="submit">Save</button>
      <button type="button" onClick={close}>
        Cancel
      </button>
    </form>
  );
}

export function Integrations({ me }: { me: Me }) {
  const list = useApi("integrations", () => client.GET("/api/v1/integrations"));
  const sources = useApi("sources", () => client.GET("/api/v1/sources"));
  const { message, run } = useAction(list.reload);
  const [provider, setProvider] = useState("jira");
  const sourceOf = (name: string) => sources.data?.items.find((s) => s.provider === name);
  const chosen = sourceOf(provider);
  const [editing, setEditing] = useState<number | null>(null);

  function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: Record<string, unknown> = {
      provider,
      base_url: String(form.get("base_url") ?? ""),
      tokens: [String(form.get("token") ?? "")],
    };
    if (chosen?.username_label) body.username = String(form.get("username") ?? "");
    for (const scope of chosen?.scopes ?? []) body[scope.field] = words(form, scope.field);
    run(
      () => load(client.POST("/api/v1/integrations", { body: body as Schemas["NewIntegrationBody"] })),
      "Integration created; its first sync is due now.",
    );
  }

  return (
    <>
      <h1>Integrations</h1>
      {message && <p role="status">{message}</p>}
      <Status loaded={list}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Source</th>
                <th scope="col">URL</th>
                <th scope="col">Active</th>
                <th scope="col">Webhooks</th>
                {me.role === "admin" && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {page.items.map((i) => (
                <tr key={i.id}>
                  <td>{i.id}</td>
                  <td>{sourceOf(i.provider)?.label ?? i.provider}</td>
                  <td>{i.base_url}</td>
                  <td>{i.active ? "yes" : "no"}</td>
                  <td>
                    <Webhooks me={me} integration={i} run={run} />
                  </td>
                  {me.role === "admin" && (
                    <td className="actions">
                      <button
                        type="button"
                        onClick={() =>
                          run(async () => {
                            const result = await load(
                              client.POST("/api/v1/integrations/{id}/test", { params: { path: { id: i.id } } }),
                            );
                            if (!result.ok)
                              throw new Error(`Integration ${i.id}: the connection failed: ${result.message}`);
                          }, `Integration ${i.id}: connection works.`)
                        }
                      >
                        Test connection
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          run(
                            () =>
                              load(
                                client.PATCH("/api/v1/integrations/{id}", {
                                  params: { path: { id: i.id } },
                                  body: { active: !i.active },
                                }),
                              ),
                            `Integration ${i.id} ${i.active ? "disabled" : "enabled"}.`,
                          )
                        }
                      >
                        {i.active ? "Disable" : "Enable"}
                      </button>
                      <button type="button" onClick={() => setEditing(i.id)}>
                        Edit
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
      {me.role === "admin" &&
        editing !== null &&
        list.data &&
        (() => {
          const integration = list.data.items.find((i) => i.id === editing)!;
          const source = sourceOf(integration.provider);
          return (
            source && (
              <EditIntegration integration={integration} source={source} run={run} close={() => setEditing(null)} />
            )
          );
        })()}
      {me.role === "admin" && chosen && (
        <>
          <h2>New integration</h2>
          <form className="filters" onSubmit={create}>
            <Select
              label="Source"
              value={provider}
              options={(sources.data?.items ?? []).map((s): [string, string] => [s.provider, s.label])}
              onChange={setProvider}
            />
            <label>
              Base URL
              <input name="base_url" required placeholder={chosen.base_url_example} />
            </label>
            {chosen.username_label && (
              <label>
                {chosen.username_label}
                <input name="username" type="email" required />
              </label>
            )}
            <label>
              API token
              <input name="token" type="password" required autoComplete="off" />
            </label>
            {chosen.scopes.map((scope) => (
              <label key={scope.field}>
                {scope.label}
                <input name={scope.field} />
              </label>
            ))}
            <button type="submit">Create</button>
          </form>
          <p className="muted">Tokens are stored encrypted and never shown again.</p>
        </>
      )}
    </>
  );
}

export function CustomFields({ me, query }: { me: Me; query: URLSearchParams }) {
  const integrations = useApi("integrations", () => client.GET("/api/v1/integrations"));
  const sources = useApi("sources", () => client.GET("/api/v1/sources"));
  const mappable = (provider: string) =>
    sources.data?.items.some((s) => s.provider === provider && s.custom_fields) ?? false;
  const jira = (integrations.data?.items ?? []).filter((i: Integration) => mappable(i.provider));
  const chosen = query.get("integration_id") ?? (jira[0] ? String(jira[0].id) : null);
  const fields = useApi(chosen && `fields ${chosen}`, () =>
    client.GET("/api/v1/custom-fields", { params: { query: { integration_id: Number(chosen) } } }),
  );
  const mapping = useApi(chosen && `mapping ${chosen}`, () =>
    client.GET("/api/v1/custom-fields/mapping", { params: { query: { integration_id: Number(chosen) } } }),
  );
  const { message, run } = useAction(() => {
    fields.reload();
    mapping.reload();
  });
  if (integrations.data && jira.length === 0)
    return (
      <>
        <h1>Custom fields</h1>
        <p>No integration with custom fields (Jira, Azure DevOps) yet.</p>
      </>
    );
  const options: [string, string][] = [
    ["", "— none —"],
    ...(fields.data?.items ?? []).map((f): [string, string] => [f.external_id, `${f.name} (${f.external_id})`]),
  ];
  return (
    <>
      <h1>Custom fields</h1>
      <p>
        Special fields first, then the twenty slots. After mapping, "Apply (reprocess)" on the workflow page fills them
        from stored data.
      </p>
      {me.role === "admin" && chosen && (
        <button
          type="button"
          onClick={() =>
            run(
              () => load(client.POST("/api/v1/custom-fields/sync", { body: { integration_id: Number(chosen) } })),
              "Fields discovered again.",
            )
          }
        >
          Sync fields
        </button>
      )}
      {message && <p role="status">{message}</p>}
      <Status loaded={mapping}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Source field</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((t) => (
                <tr key={t.target}>
                  <th scope="row">{t.target}</th>
                  <td>
                    {me.role === "admin" ? (
                      <select
                        aria-label={`Field for ${t.target}`}
                        value={t.field ?? ""}
                        onChange={(e) =>
                          e.target.value &&
                          run(
                            () =>
                              load(
                                client.PUT("/api/v1/custom-fields/mapping", {
                                  body: { integration_id: Number(chosen), mapping: { [t.target]: e.target.value } },
                                }),
                              ),
                            `${t.target} mapped.`,
                          )
                        }
                      >
                        {options.map(([key, text]) => (
                          <option key={key} value={key}>
                            {text}
                          </option>
                        ))}
                      </select>
                    ) : (
                      (t.field_name ?? "—")
                    )}
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

export function Queues() {
  const report = useApi("queues", () => client.GET("/api/v1/queues"));
  return (
    <>
      <h1>Queues</h1>
      <Status loaded={report}>
        {(r) => (
          <dl className="metrics">
            <div>
              <dt>Queues</dt>
              <dd>{r.mode === "memory" ? "in-process" : "RabbitMQ"}</dd>
            </div>
            <div>
              <dt>Raw rows waiting</dt>
              <dd>{r.backlog.pending_raw}</dd>
            </div>
            <div>
              <dt>Raw rows failed</dt>
              <dd>{r.backlog.failed_raw}</dd>
            </div>
            <div>
              <dt>Saved load batches</dt>
              <dd>{r.backlog.saved_load_batches}</dd>
            </div>
            {r.queues.map((q) => (
              <div key={q.queue}>
                <dt>{q.queue}</dt>
                <dd>{q.messages ?? "—"}</dd>
              </div>
            ))}
            <div>
              <dt>Dead letters</dt>
              <dd>{r.dead_letters ?? "—"}</dd>
            </div>
          </dl>
        )}
      </Status>
    </>
  );
}

export function Users() {
  const users = useApi("users", () => client.GET("/api/v1/users"));
  const tokens = useApi("tokens", () => client.GET("/api/v1/tokens"));
  const { message, run } = useAction(() => {
    users.reload();
    tokens.reload();
  });
  const [shown, setShown] = useState<string | null>(null);

  function createUser(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = {
      email: String(form.get("email")),
      password: String(form.get("password")),
      role: form.get("role"),
    } as Schemas["NewUserBody"];
    run(() => load(client.POST("/api/v1/users", { body })), "User created.");
  }

  function createToken(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    run(async () => {
      const body = { name: String(form.get("name")), role: form.get("role") } as Schemas["NewTokenBody"];
      const created = await load(client.POST("/api/v1/tokens", { body }));
      setShown(created.token);
    }, "Token created: copy it now, it is not shown again.");
  }

  return (
    <>
      <h1>Users and API tokens</h1>
      {message && <p role="status">{message}</p>}
      {shown && (
        <p>
          <label>
            New token
            <input readOnly value={shown} onFocus={(e) => e.target.select()} />
          </label>
        </p>
      )}
      <h2>Users</h2>
      <Status loaded={users}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">E-mail</th>
                <th scope="col">Role</th>
                <th scope="col">Active</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((u) => (
                <tr key={u.id}>
                  <td>{u.email}</td>
                  <td>{u.role}</td>
                  <td>{u.active ? "yes" : "no"}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() =>
                        run(
                          () =>
                            load(
                              client.PATCH("/api/v1/users/{id}", {
                                params: { path: { id: u.id } },
                                body: { active: !u.active },
                              }),
                            ),
                          `${u.email} ${u.active ? "disabled" : "enabled"}.`,
                        )
                      }
                    >
                      {u.active ? "Disable" : "Enable"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
      <form className="filters" onSubmit={createUser}>
        <label>
          E-mail
          <input name="email" type="email" required />
        </label>
        <label>
          Password
          <input name="password" type="password" minLength={8} required autoComplete="new-password" />
        </label>
        <label>
          Role
          <select name="role" defaultValue="viewer">
            <option value="viewer">viewer</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit">Add user</button>
      </form>
      <h2>API tokens</h2>
      <Status loaded={tokens}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.role}</td>
                  <td>{when(t.last_used_at)}</td>
                  <td>
                    {t.revoked_at ? (
                      `revoked ${when(t.revoked_at)}`
                    ) : (
                      <button
                        type="button"
                        onClick={() =>
                          run(
                            () => load(client.DELETE("/api/v1/tokens/{id}", { params: { path: { id: t.id } } })),
                            `Token ${t.name} revoked.`,
                          )
                        }
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
      <form className="filters" onSubmit={createToken}>
        <label>
          Name
          <input name="name" required />
        </label>
        <label>
          Role
          <select name="role" defaultValue="viewer">
            <option value="viewer">viewer</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit">Create token</button>
      </form>
    </>
  );
}
