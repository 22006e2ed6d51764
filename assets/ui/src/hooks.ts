// Loading data for a page: the value, the error in words, and a way to load it again.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "./api";

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

export function useApi<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setError(null);
    api
      .get<T>(path)
      .then((value) => live && setData(value))
      .catch((failure) => live && setError(errorText(failure)));
    return () => {
      live = false;
    };
  }, [path, round]);
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
