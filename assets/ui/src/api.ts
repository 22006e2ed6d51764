// Calls to /api/v1 with the session cookie; writes carry the CSRF header the API asks of
// cookie sessions. Errors arrive in the API's one shape and are thrown as ApiError.

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public field?: string) {
    super(message);
  }
}

/** Dispatched on `window` when a request finds the session gone. */
export const SIGNED_OUT = "pulse:signed-out";

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== "GET") headers["X-Pulse-CSRF"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = data?.error ?? {};
    // A session that expired or a user disabled: back to the sign-in page.
    if (response.status === 401 && path !== "/me" && path !== "/auth/login") {
      window.dispatchEvent(new Event(SIGNED_OUT));
    }
    throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.field);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => call<T>("GET", path),
  post: <T>(path: string, body?: unknown) => call<T>("POST", path, body),
  put: <T>(path: string, body?: unknown) => call<T>("PUT", path, body),
  patch: <T>(path: string, body?: unknown) => call<T>("PATCH", path, body),
  delete: <T>(path: string) => call<T>("DELETE", path),
};

export interface Me {
  user_id: number | null;
  tenant_id: number;
  email: string | null;
  role: "admin" | "viewer";
}

export type StageState = "idle" | "running" | "finished" | "failed";

export interface StepStatus {
  order: number;
  display_name: string;
  extraction: StageState;
  transform: StageState;
  load: StageState;
  embedding: StageState;
  /** Items of the last finished run. */
  counts?: { extracted: number; loaded: number; failed: number };
}

export interface JobStatus {
  overall?: string;
  steps?: Record<string, StepStatus>;
}

export interface Job {
  id: number;
  integration_id: number;
  job_type: string;
  state: string;
  active: boolean;
  next_run: string | null;
  last_sync_date: string | null;
  last_run_started_at: string | null;
  last_run_finished_at: string | null;
  skip_reason: string | null;
  error_message: string | null;
  status: JobStatus;
}

/** A source this build reads, and what connecting one asks (`GET /sources`). */
export interface SourceInfo {
  provider: string;
  label: string;
  base_url_example: string;
  /** The account field's label where the source signs in with one. */
  username_label: string | null;
  /** The lists an integration is narrowed by (empty: everything the token sees). */
  scopes: { field: "projects" | "repos"; label: string }[];
  custom_fields: boolean;
}

export interface Integration {
  id: number;
  provider: string;
  base_url: string;
  active: boolean;
}

/** An integration's webhooks (`GET /integrations/{id}/webhooks`). */
export interface WebhookStatus {
  secret_set: boolean;
  last_delivery_at: string | null;
  deliveries_last_hour: number;
  failures_last_hour: number;
  pending: number;
  /** A delivery within the scheduler's interval: polling only reconciles. */
  live: boolean;
  /** When a reconcile run last found changes no delivery had brought. */
  last_gap_at: string | null;
  last_gap_records: number | null;
  installed: { target: string; hook_id: string; url: string; installed_at: string }[];
}

/** What installing webhooks did (`PUT /integrations/{id}/webhooks`). */
export interface Installation {
  url: string;
  registered: string[];
  manual: string[];
}

export interface WorkItemRow {
  id: number;
  key: string;
  summary: string | null;
  project_key: string | null;
  type: string | null;
  status: string | null;
  status_category: string | null;
  priority: string | null;
  assignee: string | null;
  updated: string | null;
  total_cycle_time_seconds: number;
  total_lead_time_seconds: number;
}
