// Pieces every page uses: loading and error states, and a labelled select.
import { ReactNode } from "react";
import { Loaded } from "./hooks";

export function Status<T>({
  loaded,
  empty,
  children,
}: {
  loaded: Loaded<T>;
  empty?: boolean;
  children: (data: T) => ReactNode;
}) {
  if (loaded.error)
    return (
      <p role="alert" className="error">
        {loaded.error}
      </p>
    );
  if (loaded.data === null) return <p className="loading">Loading…</p>;
  if (empty) return <p>Nothing here yet.</p>;
  return <>{children(loaded.data)}</>;
}

export function Select({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: [string, string][];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {label}
      <select value={value} onChange={(event) => onChange(event.target.value)}>
        {options.map(([key, text]) => (
          <option key={key} value={key}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}
