//! SQL fragments for distribution reports: p50/p85/p95 of a column, and calendar weeks.

/// Three result columns `<alias>_p50`, `<alias>_p85`, `<alias>_p95`: percentiles of
/// `expression` over the group's rows where it is above zero (zero means "not measured").
pub fn percentile_columns(expression: &str, alias: &str) -> String {
    [("p50", 0.5), ("p85", 0.85), ("p95", 0.95)]
        .iter()
        .map(|(name, fraction)| {
            format!(
                "percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expression}) \
                 FILTER (WHERE {expression} > 0) AS {alias}_{name}"
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Monday (ISO week start) of a timestamp's week, as `YYYY-MM-DD` in UTC.
pub fn week_of(expression: &str) -> String {
    format!("to_char(date_trunc('week', {expression} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_name_their_columns() {
        let sql = percentile_columns("x.cycle", "cycle");
        assert!(sql.contains("percentile_cont(0.85) WITHIN GROUP (ORDER BY x.cycle) FILTER (WHERE x.cycle > 0) AS cycle_p85"), "{sql}");
        assert_eq!(sql.matches(" AS cycle_p").count(), 3);
        assert!(week_of("t").starts_with("to_char(date_trunc('week', t AT TIME ZONE 'UTC')"));
    }
}
