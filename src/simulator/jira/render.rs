//! Jira Cloud REST v3 JSON for generated entities, with the keys and value types of real
//! responses (see `shared/fixtures/real/jira`).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::catalog::{
    Category, CustomField, FieldKind, Status, CUSTOM_FIELDS, ISSUE_TYPES, PRIORITIES, PROJECT_KEYS,
    STATUSES,
};
use super::issues::{field_stream, History, Issue, Item, Population};
use crate::simulator::people;
use crate::simulator::rng::Stream;

/// Jira's timestamp format, e.g. `2021-03-28T16:06:08.713+0000`.
pub fn jira_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

fn jira_date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn avatar_urls() -> Value {
    json!({
        "16x16": "https://avatar.example.com/16x16",
        "24x24": "https://avatar.example.com/24x24",
        "32x32": "https://avatar.example.com/32x32",
        "48x48": "https://avatar.example.com/48x48",
    })
}

pub fn user(base: &str, index: u64) -> Value {
    let account = format!("sim-acc-{index:04}");
    let mut user = json!({
        "self": format!("{base}/rest/api/3/user?accountId={account}"),
        "accountId": account,
        "avatarUrls": avatar_urls(),
        "displayName": people::name(index),
        "active": index % 13 != 12,
        "timeZone": if index % 3 == 0 { "Asia/Shanghai" } else { "Europe/Berlin" },
        "accountType": "atlassian",
    });
    // Jira leaves the field out where the user's privacy setting hides it.
    if people::jira_shows_email(index) {
        user["emailAddress"] = Value::from(people::email(index));
    }
    user
}

pub fn status_category(base: &str, category: Category) -> Value {
    let (id, name, colour) = category.descriptor();
    json!({
        "self": format!("{base}/rest/api/3/statuscategory/{id}"),
        "id": id,
        "key": category.key(),
        "colorName": colour,
        "name": name,
    })
}

/// A status as `/status` lists it: the in-issue form plus `untranslatedName`.
pub fn status(base: &str, status: &Status) -> Value {
    let mut value = issue_status(base, status);
    value["untranslatedName"] = Value::from(status.untranslated_name);
    value
}

/// A status inside an issue: like `/status` without `untranslatedName`.
fn issue_status(base: &str, status: &Status) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/status/{}", status.id),
        "description": status.description,
        "iconUrl": format!("{base}/images/icons/statuses/generic.png"),
        "name": status.name,
        "id": status.id,
        "statusCategory": status_category(base, status.category),
    })
}

pub fn issue_type(base: &str, index: usize) -> Value {
    let t = &ISSUE_TYPES[index];
    json!({
        "self": format!("{base}/rest/api/3/issuetype/{}", t.id),
        "id": t.id,
        "description": t.description,
        "iconUrl": format!("{base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{}?size=medium", t.avatar_id),
        "name": t.name,
        "untranslatedName": t.name,
        "subtask": t.subtask,
        "avatarId": t.avatar_id,
        "hierarchyLevel": t.hierarchy_level,
    })
}

/// An issue type inside an issue: as `/issuetype`, without `untranslatedName`.
fn issue_issue_type(base: &str, index: usize) -> Value {
    let mut value = issue_type(base, index);
    if let Some(object) = value.as_object_mut() {
        object.remove("untranslatedName");
    }
    value
}

fn priority(base: &str, index: usize) -> Value {
    let (id, name) = PRIORITIES[index];
    json!({
        "self": format!("{base}/rest/api/3/priority/{id}"),
        "iconUrl": format!("{base}/images/icons/priorities/{}.svg", name.to_lowercase()),
        "name": name,
        "id": id,
    })
}

pub fn project_key(index: usize) -> String {
    PROJECT_KEYS
        .get(index)
        .map(|(key, _)| (*key).to_owned())
        .unwrap_or_else(|| format!("P{index}"))
}

fn project_name(index: usize) -> String {
    PROJECT_KEYS
        .get(index)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("Project {index}"))
}

pub fn project_id(index: usize) -> String {
    (10_000 + index).to_string()
}

fn project_avatars(base: &str) -> Value {
    let url = |size: &str| {
        format!("{base}/rest/api/3/universal_avatar/view/type/project/avatar/10552{size}")
    };
    json!({
        "16x16": url("?size=xsmall"),
        "24x24": url("?size=small"),
        "32x32": url("?size=medium"),
        "48x48": url(""),
    })
}

/// A project as `/project/search` lists it, with its issue types.
pub fn project(base: &str, index: usize) -> Value {
    let id = project_id(index);
    json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": format!("{base}/rest/api/3/project/{id}"),
        "id": id,
        "key": project_key(index),
        "name": project_name(index),
        "avatarUrls": project_avatars(base),
        "projectTypeKey": "software",
        "simplified": false,
        "style": "classic",
        "isPrivate": false,
        "properties": {},
        "issueTypes": (0..ISSUE_TYPES.len()).map(|t| issue_type(base, t)).collect::<Vec<_>>(),
    })
}

/// A project inside an issue.
fn issue_project(base: &str, index: usize) -> Value {
    let id = project_id(index);
    json!({
        "self": format!("{base}/rest/api/3/project/{id}"),
        "id": id,
        "key": project_key(index),
        "name": project_name(index),
        "projectTypeKey": "software",
        "simplified": false,
        "avatarUrls": project_avatars(base),
    })
}

pub fn issue_key(population: &Population, index: u32) -> String {
    let project = population.project_of(index);
    let number = u64::from(index) / population.projects.max(1) as u64 + 1;
    format!("{}-{number}", project_key(project))
}

pub fn issue_id(index: u32) -> String {
    (ISSUE_ID_BASE + u64::from(index)).to_string()
}

/// Issue ids start here.
const ISSUE_ID_BASE: u64 = 10_000;

/// The index of the issue with numeric id `id` (None: no issue could have it).
pub fn issue_index(id: u64) -> Option<u32> {
    u32::try_from(id.checked_sub(ISSUE_ID_BASE)?).ok()
}

/// Atlassian Document Format for a plain paragraph, as v3 sends rich text.
fn adf(text: &str) -> Value {
    json!({
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    })
}

/// The small `{id, key, self, fields{summary, status, priority, issuetype}}` form used for
/// parents and sub-tasks.
fn issue_reference(base: &str, population: &Population, index: u32) -> Value {
    let other = population.issue(index, &[]);
    json!({
        "id": issue_id(index),
        "key": issue_key(population, index),
        "self": format!("{base}/rest/api/3/issue/{}", issue_id(index)),
        "fields": {
            "summary": other.summary,
            "status": issue_status(base, &STATUSES[other.status]),
            "priority": priority(base, other.priority),
            "issuetype": issue_issue_type(base, other.issue_type),
        },
    })
}

fn option_value(base: &str, field: &CustomField, choices: &[&str], choice: usize) -> Value {
    let id = (field.number as usize * 10 + choice).to_string();
    json!({
        "self": format!("{base}/rest/api/3/customFieldOption/{id}"),
        "value": choices[choice],
        "id": id,
    })
}

fn sprint(base: &str, number: u64) -> Value {
    let start =
        super::issues::EPOCH_END_MS - super::issues::SPAN_MS + number as i64 * 14 * 86_400_000;
    json!({
        "id": number,
        "name": format!("Sprint {number}"),
        "state": "closed",
        "boardId": 1,
        "goal": "",
        "startDate": jira_time(start),
        "endDate": jira_time(start + 14 * 86_400_000),
        "completeDate": jira_time(start + 14 * 86_400_000),
        "self": format!("{base}/rest/agile/1.0/sprint/{number}"),
    })
}

/// The Development field's summary string: `{}` when no code is linked.
fn development(issue: &Issue) -> String {
    if !issue.has_code {
        return "{}".into();
    }
    let state = if issue.resolved_ms.is_some() {
        "MERGED"
    } else {
        "OPEN"
    };
    format!(
        "{{pullrequest={{dataType=pullrequest, state={state}, stateCount=1}}, json={{\"cachedValue\":{{\"errors\":[],\"summary\":{{\"pullrequest\":{{\"overall\":{{\"count\":1,\"lastUpdated\":\"{}\",\"stateCount\":1,\"state\":\"{state}\",\"dataType\":\"pullrequest\",\"open\":{}}},\"byInstanceType\":{{\"GitHub\":{{\"count\":1,\"name\":\"GitHub\"}}}}}}}}}},\"isStale\":false}}}}",
        jira_time(issue.updated_ms()),
        issue.resolved_ms.is_none()
    )
}

fn custom_value(base: &str, population: &Population, issue: &Issue, field: &CustomField) -> Value {
    let mut stream: Stream = field_stream(population.seed, issue.index, field.number);
    if !stream.chance(field.fill) {
        return Value::Null;
    }
    match field.kind {
        FieldKind::Development => Value::from(development(issue)),
        FieldKind::StoryPoints => match issue.story_points {
            // Real sites send story points as a string now and then.
            Some(points) if stream.chance(0.2) => Value::from(format!("{points:.1}")),
            Some(points) => Value::from(points),
            None => Value::Null,
        },
        FieldKind::Number => Value::from(stream.below(1000) as f64 / 10.0),
        FieldKind::Text => Value::from(format!("{} {}", field.name, stream.below(500))),
        FieldKind::Paragraph => Value::from(format!(
            "Given a user\nWhen they act on item {}\nThen the result is recorded",
            stream.below(10_000)
        )),
        FieldKind::Url => Value::from(format!(
            "https://docs.example.com/{}/{}",
            field.number,
            stream.below(10_000)
        )),
        FieldKind::Date => Value::from(jira_date(
            issue.created_ms + stream.below(30) as i64 * 86_400_000,
        )),
        FieldKind::DateTime => Value::from(jira_time(
            issue.created_ms + stream.below(60 * 86_400) as i64 * 1000,
        )),
        FieldKind::Option(choices) => {
            let choice = stream.below(choices.len() as u64) as usize;
            option_value(base, field, choices, choice)
        }
        FieldKind::Options(choices) => {
            let count = 1 + stream.below(choices.len().min(3) as u64) as usize;
            let first = stream.below(choices.len() as u64) as usize;
            Value::Array(
                (0..count)
                    .map(|k| option_value(base, field, choices, (first + k) % choices.len()))
                    .collect(),
            )
        }
        FieldKind::Labels => Value::Array(
            (0..1 + stream.below(3))
                .map(|k| Value::from(format!("tag-{}", (k + stream.below(20)) % 20)))
                .collect(),
        ),
        FieldKind::User => user(base, stream.below(super::catalog::USER_COUNT)),
        FieldKind::Users => Value::Array(
            (0..1 + stream.below(3))
                .map(|_| user(base, stream.below(super::catalog::USER_COUNT)))
                .collect(),
        ),
        FieldKind::Sprint => {
            let first = ((issue.created_ms
                - (super::issues::EPOCH_END_MS - super::issues::SPAN_MS))
                / (14 * 86_400_000))
                .max(0) as u64;
            Value::Array(
                (0..1 + stream.below(2))
                    .map(|k| sprint(base, first + k))
                    .collect(),
            )
        }
        FieldKind::Rank => Value::from(format!("0|i{:05x}:", issue.index)),
        FieldKind::EpicLink => match issue.epic {
            Some(epic) => Value::from(issue_key(population, epic)),
            None => Value::Null,
        },
    }
}

/// The `fields` object of an issue; `wanted` limits it to the named fields.
fn fields(
    base: &str,
    population: &Population,
    issue: &Issue,
    wanted: &FieldSelection,
) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut put = |name: &str, value: &dyn Fn() -> Value| {
        if wanted.includes(name) {
            fields.insert(name.to_owned(), value());
        }
    };
    let status_changed = issue
        .histories
        .iter()
        .rev()
        .find(|h| h.items.iter().any(|i| matches!(i, Item::Status { .. })))
        .map_or(issue.created_ms, |h| h.created_ms);
    let done = issue.resolved_ms.is_some();
    put("summary", &|| Value::from(issue.summary.clone()));
    put("description", &|| {
        adf(&format!(
            "{} — details for {}. {}",
            issue.summary,
            issue_key(population, issue.index),
            issue.description
        ))
    });
    put("issuetype", &|| issue_issue_type(base, issue.issue_type));
    put("project", &|| issue_project(base, issue.project));
    put("status", &|| issue_status(base, &STATUSES[issue.status]));
    put("priority", &|| priority(base, issue.priority));
    put("assignee", &|| {
        issue.assignee.map_or(Value::Null, |a| user(base, a))
    });
    put("reporter", &|| user(base, issue.reporter));
    put("creator", &|| user(base, issue.reporter));
    put("created", &|| Value::from(jira_time(issue.created_ms)));
    put("updated", &|| Value::from(jira_time(issue.updated_ms())));
    put("lastViewed", &|| Value::Null);
    put("statuscategorychangedate", &|| {
        Value::from(jira_time(status_changed))
    });
    put("resolutiondate", &|| {
        issue
            .resolved_ms
            .map_or(Value::Null, |ms| Value::from(jira_time(ms)))
    });
    put("resolution", &|| {
        if done {
            json!({"self": format!("{base}/rest/api/3/resolution/10000"), "id": "10000", "description": "Work has been completed on this issue.", "name": "Done"})
        } else {
            Value::Null
        }
    });
    put("labels", &|| Value::from(issue.labels.clone()));
    put("parent", &|| {
        issue
            .parent
            .or(issue.epic)
            .map_or(Value::Null, |p| issue_reference(base, population, p))
    });
    put("subtasks", &|| Value::Array(Vec::new()));
    put("issuelinks", &|| Value::Array(Vec::new()));
    put("components", &|| Value::Array(Vec::new()));
    put("fixVersions", &|| Value::Array(Vec::new()));
    put("versions", &|| Value::Array(Vec::new()));
    put("attachment", &|| Value::Array(Vec::new()));
    put("environment", &|| Value::Null);
    put("duedate", &|| Value::Null);
    put("security", &|| Value::Null);
    put("timeestimate", &|| Value::Null);
    put("timeoriginalestimate", &|| Value::Null);
    put("timespent", &|| Value::Null);
    put("aggregatetimeestimate", &|| Value::Null);
    put("aggregatetimeoriginalestimate", &|| Value::Null);
    put("aggregatetimespent", &|| Value::Null);
    put("workratio", &|| Value::from(-1));
    put("progress", &|| json!({"progress": 0, "total": 0}));
    put("aggregateprogress", &|| json!({"progress": 0, "total": 0}));
    put("timetracking", &|| json!({}));
    put(
        "issuerestriction",
        &|| json!({"issuerestrictions": {}, "shouldDisplay": false}),
    );
    put(
        "votes",
        &|| json!({"self": format!("{base}/rest/api/3/issue/{}/votes", issue_key(population, issue.index)), "votes": 0, "hasVoted": false}),
    );
    put(
        "watches",
        &|| json!({"self": format!("{base}/rest/api/3/issue/{}/watchers", issue_key(population, issue.index)), "watchCount": 1, "isWatching": false}),
    );
    put(
        "worklog",
        &|| json!({"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []}),
    );
    put(
        "comment",
        &|| json!({"comments": [], "self": format!("{base}/rest/api/3/issue/{}/comment", issue_id(issue.index)), "maxResults": 0, "total": 0, "startAt": 0}),
    );
    for field in CUSTOM_FIELDS {
        let id = field.id();
        if wanted.includes(&id) {
            fields.insert(id, custom_value(base, population, issue, field));
        }
    }
    fields
}

/// Which fields a request asked for (`fields=` parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSelection {
    All,
    Only(Vec<String>),
}

impl FieldSelection {
    /// Parses Jira's `fields` list: `*all`, `*navigable` (both: everything here), or names.
    pub fn parse(list: Option<&[String]>) -> Self {
        match list {
            None => FieldSelection::All,
            Some([]) => FieldSelection::All,
            Some(names) if names.iter().any(|n| n == "*all" || n == "*navigable") => {
                FieldSelection::All
            }
            Some(names) => FieldSelection::Only(names.to_vec()),
        }
    }

    fn includes(&self, name: &str) -> bool {
        match self {
            FieldSelection::All => true,
            FieldSelection::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

fn item(item: &Item) -> Value {
    match item {
        Item::Status { from, to } => json!({
            "field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": STATUSES[*from].id, "fromString": STATUSES[*from].name,
            "to": STATUSES[*to].id, "toString": STATUSES[*to].name,
        }),
        Item::Assignee { from, to } => json!({
            "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
            "from": from.map(|u| format!("sim-acc-{u:04}")), "fromString": from.map(people::name),
            "to": to.map(|u| format!("sim-acc-{u:04}")), "toString": to.map(people::name),
        }),
        Item::Priority { from, to } => json!({
            "field": "priority", "fieldtype": "jira", "fieldId": "priority",
            "from": PRIORITIES[*from].0, "fromString": PRIORITIES[*from].1,
            "to": PRIORITIES[*to].0, "toString": PRIORITIES[*to].1,
        }),
        Item::StoryPoints { from, to } => json!({
            "field": "Story Points", "fieldtype": "custom", "fieldId": "customfield_10010",
            "from": Value::Null, "fromString": from.map(|p| p.to_string()),
            "to": Value::Null, "toString": to.to_string(),
        }),
        Item::Resolution { done } => json!({
            "field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
            "from": if *done { Value::Null } else { Value::from("10000") },
            "fromString": if *done { Value::Null } else { Value::from("Done") },
            "to": if *done { Value::from("10000") } else { Value::Null },
            "toString": if *done { Value::from("Done") } else { Value::Null },
        }),
        Item::Labels { from, to } => json!({
            "field": "labels", "fieldtype": "jira", "fieldId": "labels",
            "from": Value::Null, "fromString": from.join(" "),
            "to": Value::Null, "toString": to.join(" "),
        }),
    }
}

pub fn history(base: &str, history: &History) -> Value {
    json!({
        "id": history.id.to_string(),
        "author": user(base, history.author),
        "created": jira_time(history.created_ms),
        "items": history.items.iter().map(item).collect::<Vec<_>>(),
    })
}

/// Histories embedded with `expand=changelog`: at most the latest 100, newest first,
/// with the true total.
pub const EMBEDDED_HISTORIES: usize = 100;

pub fn issue(
    base: &str,
    population: &Population,
    issue: &Issue,
    wanted: &FieldSelection,
    with_changelog: bool,
) -> Value {
    let id = issue_id(issue.index);
    let mut value = json!({
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": id,
        "self": format!("{base}/rest/api/3/issue/{id}"),
        "key": issue_key(population, issue.index),
        "fields": Value::Object(fields(base, population, issue, wanted)),
    });
    if with_changelog {
        let embedded: Vec<Value> = issue
            .histories
            .iter()
            .rev()
            .take(EMBEDDED_HISTORIES)
            .map(|h| history(base, h))
            .collect();
        value["changelog"] = json!({
            "startAt": 0,
            "maxResults": embedded.len(),
            "total": issue.histories.len(),
            "histories": embedded,
        });
    }
    value
}

/// `/field`: system fields the simulator renders, then every custom field.
pub fn field_list() -> Vec<Value> {
    let system = [
        ("summary", "Summary", "string"),
        ("status", "Status", "status"),
        ("priority", "Priority", "priority"),
        ("assignee", "Assignee", "user"),
        ("created", "Created", "datetime"),
        ("updated", "Updated", "datetime"),
        ("resolutiondate", "Resolved", "datetime"),
        ("labels", "Labels", "array"),
        ("issuetype", "Issue Type", "issuetype"),
        ("project", "Project", "project"),
    ];
    let mut list: Vec<Value> = system
        .iter()
        .map(|(id, name, kind)| {
            json!({
                "id": id, "key": id, "name": name, "custom": false, "orderable": true,
                "navigable": true, "searchable": true, "clauseNames": [id],
                "schema": {"type": kind, "system": id},
            })
        })
        .collect();
    list.extend(CUSTOM_FIELDS.iter().map(|field| {
        let (kind, items, custom) = field.schema();
        let mut schema = json!({"type": kind, "custom": custom, "customId": field.number});
        if let Some(items) = items {
            schema["items"] = Value::from(items);
        }
        json!({
            "id": field.id(), "key": field.id(), "name": field.name, "custom": true,
            "orderable": true, "navigable": true, "searchable": true,
            "clauseNames": [format!("cf[{}]", field.number), field.name],
            "schema": schema,
        })
    }));
    list
}

/// One field as createmeta describes it for an issue type.
pub fn createmeta_field(base: &str, field: &CustomField) -> Value {
    let (kind, items, custom) = field.schema();
    let mut schema = json!({"type": kind, "custom": custom, "customId": field.number});
    if let Some(items) = items {
        schema["items"] = Value::from(items);
    }
    let mut value = json!({
        "required": false,
        "schema": schema,
        "name": field.name,
        "key": field.id(),
        "fieldId": field.id(),
        "hasDefaultValue": false,
        "operations": if items.is_some() { json!(["add", "set", "remove"]) } else { json!(["set"]) },
    });
    if let FieldKind::Option(choices) | FieldKind::Options(choices) = field.kind {
        value["allowedValues"] = Value::Array(
            (0..choices.len())
                .map(|c| option_value(base, field, choices, c))
                .collect(),
        );
    }
    value
}
