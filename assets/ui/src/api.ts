// The API client and types, generated from the server's OpenAPI document (`openapi.json`,
// written by the server's tests; `npm run types` makes `schema.d.ts` from it): calls go to
// /api/v1 with the session cookie, writes carry the CSRF header the API asks of cookie
// sessions, and errors arrive in the API's one shape and are thrown as ApiError.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

/** Dispatched on `window` when a request finds the session gone. */
export const SIGNED_OUT = "pulse:signed-out";

type Schemas = components["schemas"];
export type Page<T> = { items: T[]; next_cursor?: string | null };
export type Me = Schemas["Me"];
export type Job = Omit<Schemas["JobSummary"], "status"> & { status: JobStatus };
export type SourceInfo = Schemas["SourceInfo"];
export type Integration = Schemas["IntegrationSummary"];
export type WebhookStatus = Schemas["WebhookStatus"];
export type Installation = Schemas["Installation"];
export type WorkItemRow = Schemas["WorkItemRow"];
export type { Schemas };

export type StageState = "idle" | "running" | "finished" | "failed";

/** A job's step × stage status: a free-form JSON value in the API document, this shape. */
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

export const client = createClient<paths>({ credentials: "same-origin" });

client.use({
  onRequest({ request }) {
    if (request.method !== "GET") request.headers.set("X-Pulse-CSRF", "1");
    return request;
  },
});

/** What an openapi-fetch call answers. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or the API's error thrown as ApiError (a lost session also signs out). */
export async function load<T>(request: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await request;
  if (response.ok) return data as T;
  const detail = (error as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error ?? {};
  const path = new URL(response.url, window.location.href).pathname;
  // A session that expired or a user disabled: back to the sign-in page.
  if (response.status === 401 && path !== "/api/v1/me" && path !== "/api/v1/auth/login") {
    window.dispatchEvent(new Event(SIGNED_OUT));
  }
  throw new ApiError(response.status, detail.code ?? "error", detail.message ?? response.statusText, detail.field);
}
