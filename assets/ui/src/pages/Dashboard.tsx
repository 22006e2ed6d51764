// One card per sync job: each step × stage live over the tenant's one WebSocket (no
// polling), last and next run, the error of a failed run, and the operator's actions for
// admins.
import { useCallback, useEffect, useRef, useState } from "react";
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

/**
 * Keeps every job's status current from the tenant's one WebSocket (the current status of
 * each job first, then each change); `onStatus` hears each.
 */
function useLiveStatuses(me: Me, onStatus: (jobId: number, status: JobStatus) => void) {
  useEffect(() => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/jobs/${me.tenant_id}`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "job_status_update") onStatus(message.job_id, message.status);
    };
    return () => socket.close();
  }, [me.tenant_id, onStatus]);
}

function JobCard({
  me,
  job,
  status,
  integration,
  label,
  live,
  reload,
}: {
  me: Me;
  job: Job;
  status: JobStatus;
  integration?: Integration;
  label: string;
  live: boolean;
  reload: () => void;
}) {
  const [error, setError] = useState<string | null>(null);

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
      <div className="table-scroll">
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
                  {step.counts && step.counts.failed > 0 && (
                    <span className="error"> · {step.counts.failed} failed</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
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
  const [statuses, setStatuses] = useState<Record<number, JobStatus>>({});
  const ended = useRef<Record<number, string | undefined>>({});

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
  useLiveStatuses(
    me,
    useCallback(
      (jobId: number, status: JobStatus) => {
        setStatuses((current) => ({ ...current, [jobId]: status }));
        // A run that ends brings new last/next run times and maybe an error: read the jobs again.
        const previous = ended.current[jobId];
        ended.current[jobId] = status.overall;
        const over = status.overall === "FINISHED" || status.overall === "FAILED";
        if (previous !== undefined && previous !== status.overall && over) refresh();
      },
      [refresh],
    ),
  );

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
            status={statuses[job.id] ?? job.status}
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
