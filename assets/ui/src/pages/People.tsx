// One person across tools (admins): suggestions of people who may be one (merge, or keep
// apart), every person with the accounts that are them (split one off), and teams — named
// sets of people the metrics group by — which everyone sees and admins edit.
import { FormEvent, useState } from "react";
import { client, load, Me, Schemas } from "../api";
import { Status } from "../components";
import { useAction, useApi } from "../hooks";

type Person = Schemas["Person"];

export function People() {
  const [search, setSearch] = useState("");
  const people = useApi(`people ${search}`, () =>
    client.GET("/api/v1/people", { params: { query: search ? { q: search } : {} } }),
  );
  const suggestions = useApi("people suggestions", () => client.GET("/api/v1/people/suggestions"));
  const { message, run } = useAction(() => {
    people.reload();
    suggestions.reload();
  });

  function merge(into: number, other: number, names: string) {
    run(
      () =>
        load(
          client.POST("/api/v1/people/{id}/merge", {
            params: { path: { id: into } },
            body: { person_id: other },
          }),
        ),
      `Merged: ${names} are one person now.`,
    );
  }

  function keepApart(person: number, other: number, names: string) {
    run(
      () =>
        load(
          client.POST("/api/v1/people/{id}/keep-apart", {
            params: { path: { id: person } },
            body: { person_id: other },
          }),
        ),
      `Kept apart: ${names} are no longer suggested.`,
    );
  }

  function split(person: Person, account: Schemas["PersonAccount"]) {
    run(
      () =>
        load(
          client.POST("/api/v1/people/{id}/split", {
            params: { path: { id: person.id } },
            body: { integration_id: account.integration_id, account_key: account.account_key },
          }),
        ),
      `Split: ${account.account_key} is a person of its own now.`,
    );
  }

  return (
    <>
      <h1>People</h1>
      <p className="muted">
        Accounts with the same verified e-mail are one person by themselves. Accounts that only share a name are
        suggested below: merge them, or keep them apart.
      </p>
      {message && <p role="status">{message}</p>}
      <h2>Suggestions</h2>
      <Status loaded={suggestions} empty={suggestions.data?.items.length === 0}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">May be</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((s) => {
                const names = `${s.person_name} (#${s.person_id}) and ${s.other_person_name} (#${s.other_person_id})`;
                return (
                  <tr key={`${s.person_id}-${s.other_person_id}`}>
                    <td>
                      {s.person_name} <span className="muted">#{s.person_id}</span>
                    </td>
                    <td>
                      {s.other_person_name} <span className="muted">#{s.other_person_id}</span>
                    </td>
                    <td>
                      <button
                        type="button"
                        aria-label={`Merge ${names}`}
                        onClick={() => merge(s.person_id, s.other_person_id, names)}
                      >
                        Merge
                      </button>{" "}
                      <button
                        type="button"
                        aria-label={`Keep apart ${names}`}
                        onClick={() => keepApart(s.person_id, s.other_person_id, names)}
                      >
                        Keep apart
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Status>
      <h2>Everyone</h2>
      <div className="filters">
        <label>
          Find
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
      </div>
      <Status loaded={people} empty={people.data?.items.length === 0}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Accounts</th>
                <th scope="col">Teams</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((person) => (
                <tr key={person.id}>
                  <th scope="row">
                    {person.display_name} <span className="muted">#{person.id}</span>
                  </th>
                  <td>
                    <ul className="plain">
                      {person.accounts.map((account) => (
                        <li key={`${account.integration_id}:${account.account_key}`}>
                          {account.provider}: {account.display_name ?? account.account_key}{" "}
                          <span className="muted">
                            {account.account_key}
                            {account.emails.length > 0 && ` · ${account.emails.join(", ")}`} · {account.decided_by}
                          </span>{" "}
                          {person.accounts.length > 1 && (
                            <button
                              type="button"
                              aria-label={`Split ${account.account_key} off ${person.display_name}`}
                              onClick={() => split(person, account)}
                            >
                              Split
                            </button>
                          )}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>{person.teams.map((t) => t.name).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
    </>
  );
}

/** The person ids a form's ticked `person` boxes name. */
function chosenPeople(form: FormData): number[] {
  return form.getAll("person").map(Number);
}

/** A tick box for every person. */
function PeoplePicker({ people, chosen }: { people: Person[]; chosen: number[] }) {
  return (
    <fieldset className="picker">
      <legend>Members</legend>
      {people.map((p) => (
        <label key={p.id}>
          <input type="checkbox" name="person" value={p.id} defaultChecked={chosen.includes(p.id)} />
          {p.display_name} <span className="muted">#{p.id}</span>
        </label>
      ))}
    </fieldset>
  );
}

export function Teams({ me }: { me: Me }) {
  const admin = me.role === "admin";
  const teams = useApi("teams", () => client.GET("/api/v1/teams"));
  // Only admins read people (personal data), and only admins edit teams.
  const people = useApi(admin ? "people" : null, () => client.GET("/api/v1/people"));
  const { message, run } = useAction(teams.reload);
  const [editing, setEditing] = useState<number | null>(null);

  function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = { name: String(form.get("name") ?? ""), person_ids: chosenPeople(form) };
    run(() => load(client.POST("/api/v1/teams", { body })), `Team ${body.name} created.`);
  }

  function save(team: Schemas["Team"], event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = { name: String(form.get("name") ?? ""), person_ids: chosenPeople(form) };
    run(async () => {
      await load(client.PATCH("/api/v1/teams/{id}", { params: { path: { id: team.id } }, body }));
      setEditing(null);
    }, `Team ${body.name} saved.`);
  }

  return (
    <>
      <h1>Teams</h1>
      <p className="muted">Flow, pull request and DORA metrics can be grouped by team.</p>
      {message && <p role="status">{message}</p>}
      <Status loaded={teams} empty={teams.data?.items.length === 0}>
        {(page) => (
          <table>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Members</th>
                {admin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {page.items.map((team) => (
                <tr key={team.id}>
                  <th scope="row">{team.name}</th>
                  <td>
                    {editing === team.id && people.data ? (
                      <form onSubmit={(e) => save(team, e)} aria-label={`Edit team ${team.name}`}>
                        <label>
                          Name
                          <input name="name" required maxLength={100} defaultValue={team.name} />
                        </label>
                        <PeoplePicker people={people.data.items} chosen={team.members.map((m) => m.person_id)} />
                        <button type="submit">Save</button>{" "}
                        <button type="button" onClick={() => setEditing(null)}>
                          Cancel
                        </button>
                      </form>
                    ) : (
                      team.members.map((m) => m.display_name).join(", ") || <span className="muted">nobody yet</span>
                    )}
                  </td>
                  {admin && (
                    <td>
                      <button type="button" aria-label={`Edit team ${team.name}`} onClick={() => setEditing(team.id)}>
                        Edit
                      </button>{" "}
                      <button
                        type="button"
                        aria-label={`Delete team ${team.name}`}
                        onClick={() =>
                          run(
                            () => load(client.DELETE("/api/v1/teams/{id}", { params: { path: { id: team.id } } })),
                            `Team ${team.name} deleted.`,
                          )
                        }
                      >
                        Delete
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Status>
      {admin && (
        <>
          <h2>New team</h2>
          <Status loaded={people}>
            {(page) => (
              <form onSubmit={create} aria-label="New team">
                <label>
                  Name
                  <input name="name" required maxLength={100} />
                </label>
                <PeoplePicker people={page.items} chosen={[]} />
                <button type="submit">Create team</button>
              </form>
            )}
          </Status>
        </>
      )}
    </>
  );
}
