// Display helpers: durations in days/hours, timestamps in the reader's locale, links taken
// from source data.

export function duration(seconds: number | null | undefined): string {
  if (!seconds) return "—";
  const days = seconds / 86400;
  if (days >= 1) return `${days.toFixed(1)} d`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// A URL a source sent, as a link target only when it is http(s): anything else (say
// `javascript:`) is shown as text, never followed.
export function sourceLink(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

export function when(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString() : "—";
}
