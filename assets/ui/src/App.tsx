// The shell: who is signed in (or the sign-in page), the navigation, and the page the
// path names.
import { useCallback, useEffect, useState } from "react";
import { client, load, Me, SIGNED_OUT } from "./api";
import { linkProps, navigate, useLocation } from "./router";
import { Login } from "./pages/Login";
import { Dashboard } from "./pages/Dashboard";
import { WorkItems } from "./pages/WorkItems";
import { WorkItemDetail } from "./pages/WorkItemDetail";
import { PullRequestDetail, PullRequests } from "./pages/PullRequests";
import { Metrics } from "./pages/Metrics";
import { Workflow } from "./pages/Workflow";
import { CustomFields, Integrations, Queues, Users } from "./pages/Admin";
import { Search } from "./pages/Search";
import { Delivery } from "./pages/Delivery";
import { DataQuality } from "./pages/DataQuality";
import { People, Teams } from "./pages/People";

const NAV = [
  { path: "/", label: "Dashboard", admin: false },
  { path: "/work-items", label: "Work items", admin: false },
  { path: "/prs", label: "Pull requests", admin: false },
  { path: "/flow", label: "Flow metrics", admin: false },
  { path: "/delivery", label: "Delivery", admin: false },
  { path: "/data-quality", label: "Data quality", admin: false },
  { path: "/search", label: "Search", admin: false },
  { path: "/workflow", label: "Workflow", admin: false },
  { path: "/custom-fields", label: "Custom fields", admin: false },
  { path: "/integrations", label: "Integrations", admin: false },
  { path: "/queues", label: "Queues", admin: false },
  { path: "/teams", label: "Teams", admin: false },
  { path: "/people", label: "People", admin: true },
  { path: "/users", label: "Users", admin: true },
];

export function App() {
  const location = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const loadMe = useCallback(() => {
    load(client.GET("/api/v1/me"))
      .then(setMe)
      .catch(() => setMe(null));
  }, []);
  useEffect(loadMe, [loadMe]);
  useEffect(() => {
    const signedOut = () => setMe(null);
    window.addEventListener(SIGNED_OUT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT, signedOut);
  }, []);

  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null || location.path === "/login") {
    return (
      <Login
        onSignedIn={() => {
          loadMe();
          // Back to the page that asked for a sign-in (a shared link, say).
          const wanted =
            location.path === "/login" ? "/" : `${location.path}${location.query.size ? `?${location.query}` : ""}`;
          navigate(wanted, true);
        }}
      />
    );
  }

  let page;
  if (location.path === "/") page = <Dashboard me={me} />;
  else if (location.path === "/work-items") page = <WorkItems query={location.query} />;
  else if (location.path.startsWith("/work-items/"))
    page = <WorkItemDetail itemKey={decodeURIComponent(location.path.slice("/work-items/".length))} />;
  else if (location.path === "/prs") page = <PullRequests query={location.query} />;
  else if (location.path.startsWith("/prs/")) page = <PullRequestDetail id={location.path.slice("/prs/".length)} />;
  else if (location.path === "/flow") page = <Metrics query={location.query} />;
  else if (location.path === "/delivery") page = <Delivery query={location.query} />;
  else if (location.path === "/data-quality") page = <DataQuality />;
  else if (location.path === "/workflow") page = <Workflow me={me} />;
  else if (location.path === "/custom-fields") page = <CustomFields me={me} query={location.query} />;
  else if (location.path === "/integrations") page = <Integrations me={me} />;
  else if (location.path === "/queues") page = <Queues />;
  else if (location.path === "/search") page = <Search me={me} query={location.query} />;
  else if (location.path === "/teams") page = <Teams me={me} />;
  else if (location.path === "/users" || location.path === "/people")
    page =
      me.role !== "admin" ? (
        <p role="alert" className="error">
          Not allowed: this page is for admins.
        </p>
      ) : location.path === "/users" ? (
        <Users />
      ) : (
        <People />
      );
  else
    page = (
      <p role="alert">
        No page here. <a {...linkProps("/")}>Go to the dashboard</a>.
      </p>
    );

  return (
    <div className="shell">
      <header>
        <strong>pulse-etl</strong>
        <nav aria-label="Main">
          {NAV.filter((item) => !item.admin || me.role === "admin").map((item) => (
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
          <button type="button" onClick={() => load(client.POST("/api/v1/auth/logout")).finally(() => setMe(null))}>
            Sign out
          </button>
        </span>
      </header>
      <main>{page}</main>
    </div>
  );
}
