// Data quality: each integration's checks with how many rows offend, the newest of them
// (linked to the work item or pull request) and the share per week of creation.
import { client, Schemas } from "../api";
import { Status } from "../components";
import { useApi } from "../hooks";
import { linkProps } from "../router";

type Example = Schemas["Example"];

function ExampleLink({ example }: { example: Example }) {
  if (example.work_item_key)
    return <a {...linkProps(`/work-items/${encodeURIComponent(example.work_item_key)}`)}>{example.label}</a>;
  if (example.pr_id !== null && example.pr_id !== undefined)
    return <a {...linkProps(`/prs/${example.pr_id}`)}>{example.label}</a>;
  return <>{example.label}</>;
}

export function DataQuality() {
  const report = useApi("data-quality", () => client.GET("/api/v1/data-quality"));
  const sources = useApi("sources", () => client.GET("/api/v1/sources"));
  const label = (provider: string) => sources.data?.items.find((s) => s.provider === provider)?.label ?? provider;
  return (
    <>
      <h1>Data quality</h1>
      <p>Where the data the metrics stand on is weak, per integration. Weeks are weeks of creation.</p>
      <Status loaded={report}>
        {(page) =>
          page.items.length === 0 ? (
            <p>No integration yet.</p>
          ) : (
            page.items.map((integration) => (
              <section key={integration.integration_id} aria-labelledby={`quality-${integration.integration_id}`}>
                <h2 id={`quality-${integration.integration_id}`}>
                  {label(integration.provider)} · integration {integration.integration_id}
                </h2>
                {integration.checks.length === 0 ? (
                  <p>Nothing to check yet.</p>
                ) : (
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Check</th>
                        <th scope="col">Offending</th>
                        <th scope="col">Share</th>
                        <th scope="col">Weekly share</th>
                        <th scope="col">Newest</th>
                      </tr>
                    </thead>
                    <tbody>
                      {integration.checks.map((check) => (
                        <tr key={check.check}>
                          <th scope="row">{check.label}</th>
                          <td>
                            {check.offending} of {check.total}
                          </td>
                          <td>{(100 * check.share).toFixed(1)} %</td>
                          <td>
                            {check.weeks
                              .map(
                                (w) =>
                                  `${w.week.slice(5)}: ${w.total ? Math.round((100 * w.offending) / w.total) : 0} %`,
                              )
                              .join(" · ") || "—"}
                          </td>
                          <td>
                            {check.examples.slice(0, 5).map((example) => (
                              <span key={example.label}>
                                <ExampleLink example={example} />{" "}
                              </span>
                            ))}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
            ))
          )
        }
      </Status>
    </>
  );
}
