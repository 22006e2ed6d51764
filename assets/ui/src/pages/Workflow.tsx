// Statuses → workflow steps, and each step's category and commitment point; "Apply"
// reprocesses the stored data so the workflow metrics follow the edit.
import { useState } from "react";
import { client, load, Me, Schemas } from "../api";
import { Status } from "../components";
import { errorText, useApi } from "../hooks";
import { linkProps } from "../router";

const CATEGORIES = ["to do", "in progress", "done"];

export function Workflow({ me }: { me: Me }) {
  const mappings = useApi("status-mappings", () => client.GET("/api/v1/status-mappings"));
  const steps = useApi("workflows", () => client.GET("/api/v1/workflows"));
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const admin = me.role === "admin";

  async function run(action: () => Promise<unknown>, done: string) {
    setBusy(true);
    setMessage(null);
    try {
      await action();
      setMessage(done);
      mappings.reload();
      steps.reload();
    } catch (failure) {
      setMessage(errorText(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>Statuses and workflow steps</h1>
      <p>
        How each status counts in the workflow metrics. Edits apply to new syncs; "Apply" recomputes what is stored now
        (then see <a {...linkProps("/flow")}>flow metrics</a>).
      </p>
      {admin && (
        <p>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              run(
                () => load(client.POST("/api/v1/reprocess", { body: {} })),
                "Reprocessed: the metrics follow the mapping now.",
              )
            }
          >
            {busy ? "Working…" : "Apply (reprocess)"}
          </button>
        </p>
      )}
      {message && <p role="status">{message}</p>}
      <h2>Steps</h2>
      <Status loaded={steps}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Integration</th>
                <th scope="col">Category</th>
                <th scope="col">Commitment point</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((step) => (
                <tr key={step.id}>
                  <th scope="row">{step.step_name}</th>
                  <td>{step.integration_id}</td>
                  <td>
                    <select
                      aria-label={`Category of ${step.step_name}`}
                      disabled={!admin || busy}
                      value={step.step_category}
                      onChange={(e) =>
                        run(
                          () =>
                            load(
                              client.PATCH("/api/v1/workflows/{id}", {
                                params: { path: { id: step.id } },
                                body: { step_category: e.target.value as Schemas["StepPatch"]["step_category"] },
                              }),
                            ),
                          `${step.step_name} is now "${e.target.value}".`,
                        )
                      }
                    >
                      {CATEGORIES.map((c) => (
                        <option key={c} value={c}>
                          {c}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`${step.step_name} is a commitment point`}
                      disabled={!admin || busy}
                      checked={step.is_commitment_point}
                      onChange={(e) =>
                        run(
                          () =>
                            load(
                              client.PATCH("/api/v1/workflows/{id}", {
                                params: { path: { id: step.id } },
                                body: { is_commitment_point: e.target.checked },
                              }),
                            ),
                          `Commitment point of ${step.step_name} changed.`,
                        )
                      }
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
      <h2>Status mappings</h2>
      <Status loaded={mappings}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Jira category</th>
                <th scope="col">Workflow step</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((m) => (
                <tr key={m.status_id}>
                  <th scope="row">
                    {m.status}
                    {m.tenant_override ? " *" : ""}
                  </th>
                  <td>{m.category}</td>
                  <td>
                    <select
                      aria-label={`Workflow step of ${m.status}`}
                      disabled={!admin || busy}
                      value={m.workflow_id ?? ""}
                      onChange={(e) =>
                        run(
                          () =>
                            load(
                              client.PUT("/api/v1/status-mappings/{status_id}", {
                                params: { path: { status_id: m.status_id } },
                                body: { workflow_id: Number(e.target.value) },
                              }),
                            ),
                          `${m.status} mapped.`,
                        )
                      }
                    >
                      {(steps.data?.items ?? [])
                        .filter((s) => s.integration_id === m.integration_id)
                        .map((s) => (
                          <option key={s.id} value={s.id}>
                            {s.step_name} ({s.step_category})
                          </option>
                        ))}
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
      <p className="muted">* chosen by your team; syncs keep it.</p>
    </>
  );
}
