// One card per sync job: each step × stage live over the WebSocket (no polling), last and
// next run, the error of a failed run, and the operator's actions for admins.
import { useCallback, useEffect, useState } from "react";
import { client, Integration, Job, JobStatus, load, Me, SourceInfo } from "../api";
import { errorText } from "../hooks";
import { when } from "../format";

const STAGES = ["extraction", "transform", "load", "embedding"] as const;

/** The operator's actions on a job. */
const ACTIONS = {
  trigger: (id: number) => client.POST("/api/v1/jobs/{id}/trigger", { params: { path: { id } } }),
  pause: (id: number) => client.POST("/api/v1/jobs/{id}/pause", { params: { path: { id } } }),
  resume: (id: number) => client.POST("/api/v1/jobs/{id}/resume", { params: { path: { id } } }),
  reset: (id: number) => client.POST("/api/v1/jobs/{id}/reset", { params: { path: { id } } }),
};

/** Keeps `status` of the job current from its WebSocket channels. */
function useLiveStatus(me: Me, job: Job, onStatus: (status: JobStatus) => void) {
  useEffect(() => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const sockets = STAGES.map((stage) => {
      const socket = new WebSocket(`${scheme}://${window.location.host}/ws/job/${stage}/${me.tenant_id}/${job.id}`);
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "job_status_update") onStatus(message.status);
      };
      return socket;
    });
    return () => sockets.forEach((socket) => socket.close());
  }, [me.tenant_id, job.id, onStatus]);
}

function JobCard({
  me,
  job,
  integration,
  label,
  live,
  reload,
}: {
  me: Me;
  job: Job;
  integration?: Integration;
  label: string;
  live: boolean;
  reload: () => void;
}) {
  const [status, setStatus] = useState<JobStatus>(job.status);
  const [error, setError] = useState<string | null>(null);
  // A run that ends brings new last/next run times and maybe an error: read the job again.
  useLiveStatus(
    me,
    job,
    useCallback(
      (next: JobStatus) => {
        setStatus((previous) => {
          if (previous.overall !== next.overall && (next.overall === "FINISHED" || next.overall === "FAILED")) reload();
          return next;
        });
      },
      [reload],
    ),
  );
  useEffect(() => setStatus(job.status), [job.status]);

  async function act(action: keyof typeof ACTIONS) {
    setError(null);
    try {
      await load(ACTIONS[action](job.id));
      reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  }

  const steps = Object.entries(status.steps ?? {}).sort(([, a], [, b]) => a.order - b.order);
  const overall = status.overall ?? job.state;
  return (
    <section className="card" aria-labelledby={`job-${job.id}`}>
      <h2 id={`job-${job.id}`}>
        {label} · job {job.id}
        <span className={`badge ${overall.toLowerCase()}`}>{overall}</span>
        {!job.active && <span className="badge paused">paused</span>}
        {live && (
          <span className="badge finished" title="Webhooks deliver changes; polling only reconciles">
            live
          </span>
        )}
      </h2>
      <p className="muted">
        {integration?.base_url} · last run {when(job.last_run_finished_at)} · next run {when(job.next_run)}
      </p>
      {job.error_message && (
        <p role="alert" className="error">
          {job.error_message}
        </p>
      )}
      {job.skip_reason && <p className="muted">Skipped: {job.skip_reason}</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Step</th>
            {STAGES.map((stage) => (
              <th scope="col" key={stage}>
                {stage}
              </th>
            ))}
            <th scope="col">Items</th>
          </tr>
        </thead>
        <tbody>
          {steps.map(([name, step]) => (
            <tr key={name}>
              <th scope="row">{step.display_name}</th>
              {STAGES.map((stage) => (
                <td key={stage}>
                  <span className={`state ${step[stage]}`}>{step[stage]}</span>
                </td>
              ))}
              <td>
                {step.counts ? `${step.counts.loaded} loaded` : "—"}
                {step.counts && step.counts.failed > 0 && <span className="error"> · {step.counts.failed} failed</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {me.role === "admin" && (
        <div className="actions">
          <button type="button" onClick={() => act("trigger")} disabled={!job.active}>
            Run now
          </button>
          {job.active ? (
            <button type="button" onClick={() => act("pause")}>
              Pause
            </button>
          ) : (
            <button type="button" onClick={() => act("resume")}>
              Resume
            </button>
          )}
          <button type="button" onClick={() => act("reset")}>
            Reset (full sync)
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

export function Dashboard({ me }: { me: Me }) {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [integrations, setIntegrations] = useState<Integration[]>([]);
  const [sources, setSources] = useState<SourceInfo[]>([]);
  const [live, setLive] = useState<number[]>([]);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    Promise.all([
      // Every job: the list is never paged.
      load(client.GET("/api/v1/jobs")),
      load(client.GET("/api/v1/integrations")),
      load(client.GET("/api/v1/sources")),
    ])
      .then(async ([jobs, integrations, sources]) => {
        setJobs(jobs.items as Job[]);
        setIntegrations(integrations.items);
        setSources(sources.items);
        const statuses = await Promise.all(
          integrations.items.map((i) =>
            load(client.GET("/api/v1/integrations/{id}/webhooks", { params: { path: { id: i.id } } })),
          ),
        );
        setLive(integrations.items.filter((_, n) => statuses[n].live).map((i) => i.id));
      })
      .catch((failure) => setError(errorText(failure)));
  }, []);
  useEffect(refresh, [refresh]);

  if (error)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (jobs === null) return <p className="loading">Loading jobs…</p>;
  if (jobs.length === 0)
    return (
      <p>
        No integrations yet: add one with <code>pulse-etl integration create</code> or the API.
      </p>
    );
  return (
    <>
      <h1>Sync jobs</h1>
      <div className="cards">
        {jobs.map((job) => (
          <JobCard
            key={job.id}
            me={me}
            job={job}
            integration={integrations.find((i) => i.id === job.integration_id)}
            label={sources.find((s) => s.provider === job.job_type)?.label ?? job.job_type}
            live={live.includes(job.integration_id)}
            reload={refresh}
          />
        ))}
      </div>
    </>
  );
}
