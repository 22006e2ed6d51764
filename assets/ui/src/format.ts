// Display helpers: durations in days/hours, timestamps in the reader's locale.

export function duration(seconds: number | null | undefined): string {
  if (!seconds) return "—";
  const days = seconds / 86400;
  if (days >= 1) return `${days.toFixed(1)} d`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function when(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString() : "—";
}
