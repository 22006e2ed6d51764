//! The fixed vocabulary of the simulated Jira site: statuses, workflows, issue types,
//! priorities, people, projects and custom fields.

/// Jira's status categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    New,
    Indeterminate,
    Done,
}

impl Category {
    pub fn key(self) -> &'static str {
        match self {
            Category::New => "new",
            Category::Indeterminate => "indeterminate",
            Category::Done => "done",
        }
    }

    /// (id, display name, colour) as Jira sends them in `statusCategory`.
    pub fn descriptor(self) -> (u64, &'static str, &'static str) {
        match self {
            Category::New => (2, "To Do", "blue-gray"),
            Category::Indeterminate => (4, "In Progress", "yellow"),
            Category::Done => (3, "Done", "green"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub id: &'static str,
    pub name: &'static str,
    pub untranslated_name: &'static str,
    pub category: Category,
    pub description: &'static str,
}

/// Index into [`STATUSES`].
pub type StatusRef = usize;

pub const STATUSES: &[Status] = &[
    Status {
        id: "10000",
        name: "Backlog",
        untranslated_name: "Backlog",
        category: Category::New,
        description: "Not yet committed to.",
    },
    Status {
        id: "10001",
        name: "To Do",
        untranslated_name: "To Do",
        category: Category::New,
        description: "Committed, not started.",
    },
    Status {
        id: "3",
        name: "In Progress",
        untranslated_name: "In Progress",
        category: Category::Indeterminate,
        description: "This issue is being actively worked on at the moment by the assignee.",
    },
    Status {
        id: "10002",
        name: "Code Review",
        untranslated_name: "Code Review",
        category: Category::Indeterminate,
        description: "Waiting for or in review.",
    },
    Status {
        id: "10003",
        name: "测试中",
        untranslated_name: "Testing",
        category: Category::Indeterminate,
        description: "正在测试。",
    },
    Status {
        id: "10004",
        name: "Done",
        untranslated_name: "Done",
        category: Category::Done,
        description: "Work is complete.",
    },
    Status {
        id: "1",
        name: "Open",
        untranslated_name: "Open",
        category: Category::New,
        description: "The issue is open and ready for the assignee to start work on it.",
    },
    Status {
        id: "4",
        name: "Reopened",
        untranslated_name: "Reopened",
        category: Category::New,
        description: "This issue was once resolved, but the resolution was deemed incorrect.",
    },
    Status {
        id: "5",
        name: "Resolved",
        untranslated_name: "Resolved",
        category: Category::Done,
        description: "A resolution has been taken, and it is awaiting verification by reporter.",
    },
    Status {
        id: "6",
        name: "Closed",
        untranslated_name: "Closed",
        category: Category::Done,
        description: "The issue is considered finished, the resolution is correct.",
    },
    Status {
        id: "10005",
        name: "待办",
        untranslated_name: "To Do",
        category: Category::New,
        description: "",
    },
    Status {
        id: "10006",
        name: "处理中",
        untranslated_name: "In Progress",
        category: Category::Indeterminate,
        description: "",
    },
    // As on real sites: a name that says done in a category that says new.
    Status {
        id: "10068",
        name: "已完成",
        untranslated_name: "Completed",
        category: Category::New,
        description: "This status is managed internally by Jira Software",
    },
];

/// A workflow: its steps in forward order, where rework and reopening lead.
#[derive(Debug, Clone, Copy)]
pub struct Workflow {
    pub steps: &'static [StatusRef],
    /// Where an item returns to the backlog.
    pub backlog: StatusRef,
    /// Where a finished item is reopened to.
    pub reopen: StatusRef,
}

pub const SOFTWARE_WORKFLOW: Workflow = Workflow {
    steps: &[0, 1, 2, 3, 4, 5],
    backlog: 1,
    reopen: 1,
};
pub const BUG_WORKFLOW: Workflow = Workflow {
    steps: &[6, 2, 8, 9],
    backlog: 6,
    reopen: 7,
};
pub const SUBTASK_WORKFLOW: Workflow = Workflow {
    steps: &[10, 11, 12],
    backlog: 10,
    reopen: 10,
};

#[derive(Debug, Clone, Copy)]
pub struct IssueType {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub subtask: bool,
    pub hierarchy_level: i64,
    pub avatar_id: u64,
    pub workflow: Workflow,
    /// Relative frequency among generated issues.
    pub weight: u32,
}

pub const EPIC: usize = 0;
pub const SUBTASK: usize = 4;
pub const BUG: usize = 2;

pub const ISSUE_TYPES: &[IssueType] = &[
    IssueType {
        id: "10000",
        name: "Epic",
        description: "A big user story that needs to be broken down.",
        subtask: false,
        hierarchy_level: 1,
        avatar_id: 10307,
        workflow: SOFTWARE_WORKFLOW,
        weight: 4,
    },
    IssueType {
        id: "10001",
        name: "Story",
        description: "Functionality or a feature expressed as a user goal.",
        subtask: false,
        hierarchy_level: 0,
        avatar_id: 10315,
        workflow: SOFTWARE_WORKFLOW,
        weight: 44,
    },
    IssueType {
        id: "10002",
        name: "Bug",
        description: "A problem or error.",
        subtask: false,
        hierarchy_level: 0,
        avatar_id: 10303,
        workflow: BUG_WORKFLOW,
        weight: 26,
    },
    IssueType {
        id: "10003",
        name: "Task",
        description: "A small, distinct piece of work.",
        subtask: false,
        hierarchy_level: 0,
        avatar_id: 10318,
        workflow: SOFTWARE_WORKFLOW,
        weight: 20,
    },
    IssueType {
        id: "10004",
        name: "Sub-task",
        description: "A small piece of work that's part of a larger task.",
        subtask: true,
        hierarchy_level: -1,
        avatar_id: 10316,
        workflow: SUBTASK_WORKFLOW,
        weight: 6,
    },
];

pub const PRIORITIES: &[(&str, &str)] = &[
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];

pub const USER_COUNT: u64 = 40;

/// Project keys; more projects than listed get `P<n>`.
pub const PROJECT_KEYS: &[(&str, &str)] = &[
    ("CORE", "Core Platform"),
    ("WEB", "Web Application"),
    ("OPS", "Operations"),
    ("DATA", "Data Pipeline"),
    ("MOB", "Mobile"),
    ("API", "Public API"),
    ("INFRA", "Infrastructure"),
    ("QA", "Quality Assurance"),
];

/// How a custom field's value looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `number`; story points are sometimes sent as a string, as real sites do.
    Number,
    StoryPoints,
    Text,
    /// Long free text.
    Paragraph,
    Url,
    Date,
    DateTime,
    /// `option`: `{self, value, id}`.
    Option(&'static [&'static str]),
    /// `array` of options.
    Options(&'static [&'static str]),
    /// `array` of strings.
    Labels,
    User,
    Users,
    /// `array` of sprint objects.
    Sprint,
    /// The development summary string that says whether code exists.
    Development,
    /// Jira's lexorank string.
    Rank,
    /// The parent epic's key.
    EpicLink,
}

#[derive(Debug, Clone, Copy)]
pub struct CustomField {
    pub number: u32,
    pub name: &'static str,
    pub kind: FieldKind,
    /// Share of issues that have a value.
    pub fill: f64,
}

impl CustomField {
    pub fn id(&self) -> String {
        format!("customfield_{}", self.number)
    }

    /// (schema.type, schema.items, schema.custom) as Jira describes the field.
    pub fn schema(&self) -> (&'static str, Option<&'static str>, &'static str) {
        match self.kind {
            FieldKind::Number | FieldKind::StoryPoints => (
                "number",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:float",
            ),
            FieldKind::Text => (
                "string",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            ),
            FieldKind::Paragraph => (
                "string",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
            ),
            FieldKind::Url => (
                "string",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:url",
            ),
            FieldKind::Date => (
                "date",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
            ),
            FieldKind::DateTime => (
                "datetime",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:datetime",
            ),
            FieldKind::Option(_) => (
                "option",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:select",
            ),
            FieldKind::Options(_) => (
                "array",
                Some("option"),
                "com.atlassian.jira.plugin.system.customfieldtypes:multiselect",
            ),
            FieldKind::Labels => (
                "array",
                Some("string"),
                "com.atlassian.jira.plugin.system.customfieldtypes:labels",
            ),
            FieldKind::User => (
                "user",
                None,
                "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
            ),
            FieldKind::Users => (
                "array",
                Some("user"),
                "com.atlassian.jira.plugin.system.customfieldtypes:multiuserpicker",
            ),
            FieldKind::Sprint => (
                "array",
                Some("json"),
                "com.pyxis.greenhopper.jira:gh-sprint",
            ),
            FieldKind::Development => (
                "any",
                None,
                "com.atlassian.jira.plugins.jira-development-integration-plugin:devsummarycf",
            ),
            FieldKind::Rank => ("any", None, "com.pyxis.greenhopper.jira:gh-lexo-rank"),
            FieldKind::EpicLink => ("any", None, "com.pyxis.greenhopper.jira:gh-epic-link"),
        }
    }
}

const YES_NO: &[&str] = &["Yes", "No"];

pub const CUSTOM_FIELDS: &[CustomField] = &[
    CustomField {
        number: 10000,
        name: "Development",
        kind: FieldKind::Development,
        fill: 1.0,
    },
    CustomField {
        number: 10010,
        name: "Story Points",
        kind: FieldKind::StoryPoints,
        fill: 0.7,
    },
    CustomField {
        number: 10011,
        name: "Sprint",
        kind: FieldKind::Sprint,
        fill: 0.6,
    },
    CustomField {
        number: 10012,
        name: "Team",
        kind: FieldKind::Option(&["Platform", "Growth", "Payments", "Search", "Mobile", "SRE"]),
        fill: 0.85,
    },
    CustomField {
        number: 10014,
        name: "Epic Link",
        kind: FieldKind::EpicLink,
        fill: 0.5,
    },
    CustomField {
        number: 10015,
        name: "Start date",
        kind: FieldKind::Date,
        fill: 0.4,
    },
    CustomField {
        number: 10016,
        name: "Severity",
        kind: FieldKind::Option(&["S1", "S2", "S3", "S4"]),
        fill: 0.35,
    },
    CustomField {
        number: 10017,
        name: "Environment Type",
        kind: FieldKind::Option(&["Production", "Staging", "Development"]),
        fill: 0.3,
    },
    CustomField {
        number: 10018,
        name: "Customer",
        kind: FieldKind::Text,
        fill: 0.25,
    },
    CustomField {
        number: 10019,
        name: "Rank",
        kind: FieldKind::Rank,
        fill: 1.0,
    },
    CustomField {
        number: 10020,
        name: "Tags",
        kind: FieldKind::Labels,
        fill: 0.3,
    },
    CustomField {
        number: 10021,
        name: "Affected Services",
        kind: FieldKind::Options(&["auth", "billing", "search", "gateway", "notifications"]),
        fill: 0.4,
    },
    CustomField {
        number: 10022,
        name: "Reviewer",
        kind: FieldKind::User,
        fill: 0.5,
    },
    CustomField {
        number: 10023,
        name: "QA Owner",
        kind: FieldKind::User,
        fill: 0.35,
    },
    CustomField {
        number: 10024,
        name: "Business Value",
        kind: FieldKind::Number,
        fill: 0.3,
    },
    CustomField {
        number: 10025,
        name: "Risk Score",
        kind: FieldKind::Number,
        fill: 0.2,
    },
    CustomField {
        number: 10026,
        name: "Due Window",
        kind: FieldKind::DateTime,
        fill: 0.15,
    },
    CustomField {
        number: 10027,
        name: "Release Train",
        kind: FieldKind::Option(&["2024.1", "2024.2", "2025.1", "2025.2"]),
        fill: 0.45,
    },
    CustomField {
        number: 10028,
        name: "Acceptance Criteria",
        kind: FieldKind::Paragraph,
        fill: 0.4,
    },
    CustomField {
        number: 10029,
        name: "Flagged",
        kind: FieldKind::Options(&["Impediment"]),
        fill: 0.05,
    },
    CustomField {
        number: 10030,
        name: "Original Story Points",
        kind: FieldKind::Number,
        fill: 0.3,
    },
    CustomField {
        number: 10031,
        name: "Product Area",
        kind: FieldKind::Option(&["Checkout", "Catalog", "Accounts", "Reporting"]),
        fill: 0.5,
    },
    CustomField {
        number: 10032,
        name: "Platform",
        kind: FieldKind::Options(&["iOS", "Android", "Web", "Desktop"]),
        fill: 0.3,
    },
    CustomField {
        number: 10033,
        name: "Root Cause",
        kind: FieldKind::Text,
        fill: 0.15,
    },
    CustomField {
        number: 10034,
        name: "Regression",
        kind: FieldKind::Option(YES_NO),
        fill: 0.2,
    },
    CustomField {
        number: 10035,
        name: "Customer Impact",
        kind: FieldKind::Number,
        fill: 0.2,
    },
    CustomField {
        number: 10036,
        name: "Incident Link",
        kind: FieldKind::Url,
        fill: 0.1,
    },
    CustomField {
        number: 10037,
        name: "Design Doc",
        kind: FieldKind::Url,
        fill: 0.2,
    },
    CustomField {
        number: 10038,
        name: "Target Quarter",
        kind: FieldKind::Option(&["Q1", "Q2", "Q3", "Q4"]),
        fill: 0.35,
    },
    CustomField {
        number: 10039,
        name: "Approvers",
        kind: FieldKind::Users,
        fill: 0.2,
    },
    CustomField {
        number: 10040,
        name: "Code Changed",
        kind: FieldKind::Option(YES_NO),
        fill: 0.6,
    },
    CustomField {
        number: 10041,
        name: "Last Deployed",
        kind: FieldKind::DateTime,
        fill: 0.2,
    },
];

/// The Development field's id; dev-status details exist for issues whose value says so.
pub const DEVELOPMENT_FIELD: u32 = 10000;
