//! How a failed command ends: one `error:` line with the causes, and an exit code — 2 when
//! the input was refused (as for command-line usage errors), 1 for anything else.

use crate::service::ServiceError;

/// Exit code of a command whose input was refused.
const INVALID_INPUT: u8 = 2;

/// The error line (without `error: `) and exit code of a failed command.
pub fn failure(error: &anyhow::Error) -> (String, u8) {
    match error.downcast_ref::<ServiceError>() {
        Some(ServiceError::Invalid { field, message }) => {
            (format!("{}: {message}", flag(field)), INVALID_INPUT)
        }
        _ => (error_line(error), 1),
    }
}

/// The command-line flag that carries an input field.
fn flag(field: &str) -> String {
    match field {
        "password" => "--password-stdin".to_owned(),
        field => format!("--{}", field.replace('_', "-")),
    }
}

/// The error and its causes on one line, skipping a cause that only repeats what the line
/// already says (some libraries put their source into their own message).
fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_input_names_the_flag_and_exits_2() {
        let error = anyhow::Error::new(ServiceError::Invalid {
            field: "base_url",
            message: "'x' has no host".into(),
        });
        assert_eq!(
            failure(&error),
            ("--base-url: 'x' has no host".to_owned(), INVALID_INPUT)
        );
    }

    #[test]
    fn other_failures_keep_their_causes_once() {
        let error = anyhow::anyhow!("disk full").context("writing the batch");
        assert_eq!(
            failure(&error),
            ("writing the batch: disk full".to_owned(), 1)
        );
        let not_found = anyhow::Error::new(ServiceError::NotFound {
            entity: "tenant",
            id: 9,
        });
        assert_eq!(
            failure(&not_found),
            ("tenant 9 does not exist".to_owned(), 1)
        );
    }
}
