// The shell: who is signed in (or the sign-in page), the navigation, and the page the
// path names.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, Me } from "./api";
import { linkProps, navigate, useLocation } from "./router";
import { Login } from "./pages/Login";
import { Dashboard } from "./pages/Dashboard";
import { WorkItems } from "./pages/WorkItems";
import { WorkItemDetail } from "./pages/WorkItemDetail";

const NAV = [
  { path: "/", label: "Dashboard" },
  { path: "/work-items", label: "Work items" },
];

export function App() {
  const location = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const loadMe = useCallback(() => {
    api
      .get<Me>("/me")
      .then(setMe)
      .catch((error) => {
        if (error instanceof ApiError && error.status === 401) setMe(null);
        else setMe(null);
      });
  }, []);
  useEffect(loadMe, [loadMe]);

  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null || location.path === "/login") {
    return (
      <Login
        onSignedIn={() => {
          loadMe();
          navigate("/", true);
        }}
      />
    );
  }

  let page;
  if (location.path === "/") page = <Dashboard me={me} />;
  else if (location.path === "/work-items") page = <WorkItems query={location.query} />;
  else if (location.path.startsWith("/work-items/"))
    page = <WorkItemDetail itemKey={decodeURIComponent(location.path.slice("/work-items/".length))} />;
  else page = <p role="alert">No page here. <a {...linkProps("/")}>Go to the dashboard</a>.</p>;

  return (
    <div className="shell">
      <header>
        <strong>pulse-etl</strong>
        <nav aria-label="Main">
          {NAV.map((item) => (
            <a
              key={item.path}
              {...linkProps(item.path)}
              aria-current={location.path === item.path ? "page" : undefined}
            >
              {item.label}
            </a>
          ))}
        </nav>
        <span className="who">
          {me.email ?? "API token"} ({me.role}){" "}
          <button
            type="button"
            onClick={() => api.post("/auth/logout").finally(() => setMe(null))}
          >
            Sign out
          </button>
        </span>
      </header>
      <main>{page}</main>
    </div>
  );
}
