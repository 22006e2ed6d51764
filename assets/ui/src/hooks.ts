// Loading data for a page: the value, the error in words, and a way to load it again.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, load } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
}

export function errorText(failure: unknown): string {
  if (failure instanceof ApiError) return failure.message;
  if (failure instanceof TypeError) return "The server could not be reached.";
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * Loads what `request` answers whenever `key` changes (null: nothing to load yet); `key`
 * names the request, its parameters included.
 */
export function useApi<T>(
  key: string | null,
  request: () => Promise<{ data?: T; error?: unknown; response: Response }>,
): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  const latest = useRef(request);
  latest.current = request;
  useEffect(() => {
    if (key === null) return;
    let live = true;
    setError(null);
    load(latest.current())
      .then((value) => live && setData(value))
      .catch((failure) => live && setError(errorText(failure)));
    return () => {
      live = false;
    };
  }, [key, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data, error, reload };
}

/** Runs an action, then says how it went (`done`, or the error) and reloads the page's data. */
export function useAction(reload: () => void) {
  const [message, setMessage] = useState<string | null>(null);
  const run = async (action: () => Promise<unknown>, done: string) => {
    setMessage(null);
    try {
      await action();
      setMessage(done);
      reload();
    } catch (failure) {
      setMessage(errorText(failure));
    }
  };
  return { message, run };
}
