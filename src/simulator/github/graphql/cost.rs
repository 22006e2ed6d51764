//! GitHub's GraphQL limits, computed from a validated operation before it runs: every
//! connection needs `first` or `last` (1 to 100); the query may reach at most 500,000
//! nodes; and its cost in points is the number of requests it stands for (each connection
//! counts once per node of the connections around it), divided by 100 and rounded, at
//! least 1.

use apollo_compiler::ast::Value;
use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::response::JsonMap;
use apollo_compiler::ExecutableDocument;

/// The most nodes a query may reach.
pub const NODE_LIMIT: u64 = 500_000;
/// The largest `first` or `last` of a connection.
const PAGE_LIMIT: u64 = 100;

/// What a query costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Requests it stands for.
    pub requests: u64,
    /// Nodes it may reach.
    pub nodes: u64,
}

impl Cost {
    /// Points charged to the token's budget.
    pub fn points(&self) -> u64 {
        ((self.requests as f64 / 100.0).round() as u64).max(1)
    }
}

/// The cost of `selections` (in the operation of `document`), or GitHub's error message.
pub fn cost(
    document: &ExecutableDocument,
    selections: &SelectionSet,
    variables: &JsonMap,
) -> Result<Cost, String> {
    let mut cost = Cost::default();
    walk(document, selections, variables, 1, &mut cost)?;
    Ok(cost)
}

fn walk(
    document: &ExecutableDocument,
    set: &SelectionSet,
    variables: &JsonMap,
    multiplier: u64,
    cost: &mut Cost,
) -> Result<(), String> {
    for selection in &set.selections {
        let (inner, multiplier) = match selection {
            Selection::Field(field) => {
                let inner = if is_connection(field) {
                    let size = page_size(field, variables)?;
                    cost.requests += multiplier;
                    let reached = multiplier.saturating_mul(size);
                    cost.nodes = cost.nodes.saturating_add(reached);
                    if cost.nodes > NODE_LIMIT {
                        return Err(format!(
                            "By the time this query traverses to the {} connection, it is \
                             requesting up to {} possible nodes which exceeds the maximum \
                             limit of {NODE_LIMIT}.",
                            field.name, cost.nodes
                        ));
                    }
                    reached
                } else {
                    multiplier
                };
                (Some(&field.selection_set), inner)
            }
            Selection::InlineFragment(fragment) => (Some(&fragment.selection_set), multiplier),
            Selection::FragmentSpread(spread) => (
                document
                    .fragments
                    .get(&spread.fragment_name)
                    .map(|f| &f.selection_set),
                multiplier,
            ),
        };
        if let Some(inner) = inner {
            walk(document, inner, variables, multiplier, cost)?;
        }
    }
    Ok(())
}

fn is_connection(field: &Field) -> bool {
    field
        .ty()
        .inner_named_type()
        .as_str()
        .ends_with("Connection")
}

/// `first` or `last` of a connection field, literal or from a variable.
fn page_size(field: &Field, variables: &JsonMap) -> Result<u64, String> {
    let argument = |name: &str| {
        let value = field.arguments.iter().find(|a| a.name == name)?;
        match value.value.as_ref() {
            Value::Int(int) => int.try_to_i32().ok().map(i64::from),
            Value::Variable(variable) => variables.get(variable.as_str())?.as_i64(),
            _ => None,
        }
    };
    let Some(size) = argument("first").or_else(|| argument("last")) else {
        return Err(format!(
            "You must provide a `first` or `last` value to properly paginate the `{}` \
             connection.",
            field.name
        ));
    };
    match u64::try_from(size) {
        Ok(size) if size <= PAGE_LIMIT => Ok(size),
        _ => Err(format!(
            "Requesting {size} records on the `{}` connection exceeds the `first` limit of \
             {PAGE_LIMIT} records.",
            field.name
        )),
    }
}
