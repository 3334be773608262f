//! `${env:NAME}`, replaced by the environment variable's value: the one parser for every string
//! that takes it. The scenario's plain strings use it directly — `[http] allowed_hosts`, whose
//! hosts may come from the environment (one host, or a comma-separated list of them), so a
//! scenario names its insurers' portals once for every staging environment; a host name is no
//! secret, and is named in messages. Templates (`headers`, `query`, the journey file) use it
//! through `journey_file::template`, which keeps every value read as a secret.

/// Why a string's `${env:…}` could not be replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("`${{env:` without its closing `}}`")]
    Unclosed,
    #[error("`${{env:{0}}}` is not an environment variable name")]
    BadName(String),
    #[error("environment variable {0} is not set")]
    NotSet(String),
}

/// `text` with each `${env:NAME}` replaced by `read(NAME)`.
pub fn expand(
    text: &str,
    mut read: impl FnMut(&str) -> Option<String>,
) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "${env:".len()..];
        let end = after.find('}').ok_or(EnvError::Unclosed)?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(EnvError::BadName(name.to_string()));
        }
        out.push_str(&read(name).ok_or_else(|| EnvError::NotSet(name.to_string()))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The process's environment.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(name: &str) -> Option<String> {
        (name == "INSURERS").then(|| "pay.a.example, pay.b.example".to_string())
    }

    #[test]
    fn variables_are_replaced_and_the_rest_kept() {
        assert_eq!(
            expand("${env:INSURERS},pay.c.example", fake).unwrap(),
            "pay.a.example, pay.b.example,pay.c.example"
        );
        assert_eq!(expand("pay.example", fake).unwrap(), "pay.example");
    }

    #[test]
    fn an_unset_or_malformed_variable_is_an_error_naming_it() {
        assert_eq!(
            expand("${env:OTHER_INSURERS}", fake),
            Err(EnvError::NotSet("OTHER_INSURERS".into()))
        );
        assert_eq!(expand("${env:OTHER", fake), Err(EnvError::Unclosed));
        assert_eq!(
            expand("${env:a b}", fake),
            Err(EnvError::BadName("a b".into()))
        );
    }
}
