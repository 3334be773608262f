//! Where a visit's requests may go: the scenario's base URL, under which the journey file's
//! relative paths resolve, and the other hosts it allows.

use url::Url;

use super::RequestError;

/// Where requests may go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The base URL, path prefix kept, without a trailing `/`.
    pub base: String,
    /// Hosts besides the base URL's own that requests may reach; `*` allows any.
    pub allowed_hosts: Vec<String>,
    base_host: Option<String>,
    /// The base URL parsed once, ending in `/`, so that a relative path is resolved against it
    /// without parsing the scheme and host again for every request. `None` when the base has a
    /// query or fragment, which a plain join would drop.
    base_dir: Option<Url>,
}

impl Target {
    pub fn new(base: &str, allowed_hosts: Vec<String>) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let parsed = Url::parse(&base).ok();
        let base_host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let base_dir = parsed
            .filter(|u| u.query().is_none() && u.fragment().is_none() && !u.cannot_be_a_base())
            .and_then(|_| Url::parse(&format!("{base}/")).ok());
        Self {
            base,
            allowed_hosts,
            base_host,
            base_dir,
        }
    }

    /// A URL the journey file wrote: absolute as it is, else under the base URL (its prefix kept).
    pub fn resolve(&self, written: &str) -> Result<Url, RequestError> {
        if written.starts_with("http://") || written.starts_with("https://") {
            return parse(written.to_string());
        }
        let relative = written.trim_start_matches('/');
        match &self.base_dir {
            // A join reads `a:b` as a URL of scheme `a`; the base's path is meant instead.
            Some(dir) if !starts_with_scheme(relative) => dir
                .join(relative)
                .or_else(|_| parse(format!("{}/{relative}", self.base))),
            _ => parse(format!("{}/{relative}", self.base)),
        }
    }

    /// May a request go to `url`?
    pub fn allows(&self, url: &Url) -> bool {
        // The URL parser has already lowercased an http(s) host.
        let Some(host) = url.host_str() else {
            return false;
        };
        self.base_host.as_deref() == Some(host)
            || self
                .allowed_hosts
                .iter()
                .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(host))
    }
}

fn parse(url: String) -> Result<Url, RequestError> {
    Url::parse(&url).map_err(|source| RequestError::BadUrl { url, source })
}

/// Does a `:` come before the first `/`, `?` or `#`?
fn starts_with_scheme(relative: &str) -> bool {
    relative
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|first| first.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What resolving meant before the base was parsed once: the written path appended to the
    /// base URL's text, and the whole parsed.
    fn appended(base: &str, written: &str) -> Option<String> {
        let base = base.trim_end_matches('/');
        Url::parse(&format!("{base}/{}", written.trim_start_matches('/')))
            .ok()
            .map(String::from)
    }

    #[test]
    fn relative_paths_resolve_under_the_base_as_if_appended_to_its_text() {
        let bases = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://Staging.Example.ORG/exchange/v2/",
            "http://[::1]:9000/api",
            "http://h.example/p?key=1",
            "http://h.example/p#top",
        ];
        let written = [
            "",
            "/",
            "plans",
            "/plans?zip=21201&year=2014",
            "//plans",
            "plans/{id}/select",
            "../other/x",
            "a/./b/../c",
            "?page=2",
            "#frag",
            "plans with space",
            "caf\u{e9}/%41",
            "a:b/c",
            "plans:search?q=1",
            "back\\slash",
        ];
        for base in bases {
            let target = Target::new(base, Vec::new());
            for path in written {
                let resolved = target.resolve(path).ok().map(String::from);
                assert_eq!(resolved, appended(base, path), "{base} + {path}");
            }
        }
    }

    #[test]
    fn absolute_urls_stay_as_written() {
        let target = Target::new("http://127.0.0.1:8080/api", Vec::new());
        let url = target.resolve("https://insurer.example/pay?x=1").unwrap();
        assert_eq!(url.as_str(), "https://insurer.example/pay?x=1");
        assert!(!target.allows(&url));
    }

    #[test]
    fn only_the_base_host_and_allowed_hosts_are_allowed_whatever_their_case() {
        let target = Target::new(
            "http://Exchange.Example:8080",
            vec!["Insurer.Example".into()],
        );
        let allows = |url: &str| target.allows(&Url::parse(url).unwrap());
        assert!(allows("http://exchange.example:8080/plans"));
        assert!(allows("https://INSURER.example/pay"));
        assert!(!allows("http://attacker.example/steal"));
        assert!(!allows("mailto:someone@exchange.example"));
        let any = Target::new("http://127.0.0.1", vec!["*".into()]);
        assert!(any.allows(&Url::parse("http://anywhere.example/").unwrap()));
    }
}
