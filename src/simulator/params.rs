//! Query strings as both simulated APIs read them: repeated keys, comma lists, numbers.

pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma lists split; None when absent or empty.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .collect();
        (!values.is_empty()).then_some(values)
    }

    /// A non-negative number; the error names the parameter and value.
    pub fn number(&self, name: &str) -> Result<Option<usize>, String> {
        self.one(name)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| format!("The value '{v}' of '{name}' is not a number."))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_comma_lists_and_numbers() {
        let params = Params::parse(Some("fields=a,b&fields=c&n=5&bad=x&jql=project%20%3D%20A"));
        assert_eq!(
            params.list("fields"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(params.one("jql"), Some("project = A"));
        assert_eq!(params.number("n"), Ok(Some(5)));
        assert_eq!(params.number("missing"), Ok(None));
        assert!(params.number("bad").unwrap_err().contains("'x'"));
        assert_eq!(params.list("missing"), None);
    }
}
