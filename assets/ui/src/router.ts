// A small router over the History API: the path picks the page, the query string holds a
// page's filters, so every view can be bookmarked and shared.
import { useEffect, useState } from "react";

export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false) {
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  listeners.forEach((listener) => listener());
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return location;
}

/** A link that navigates in place (and still opens in a new tab when asked to). */
export function linkProps(to: string) {
  return {
    href: to,
    onClick: (event: { preventDefault: () => void; metaKey: boolean; ctrlKey: boolean; button: number }) => {
      if (event.metaKey || event.ctrlKey || event.button !== 0) return;
      event.preventDefault();
      navigate(to);
    },
  };
}

/** Navigates to `path` with the non-empty values a filter form holds for `names`. */
export function submitFilters(form: HTMLFormElement, path: string, names: readonly string[]) {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const name of names) {
    const value = String(data.get(name) ?? "").trim();
    if (value) params.set(name, value);
  }
  navigate(`${path}${params.size ? `?${params}` : ""}`);
}
