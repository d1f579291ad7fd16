//! The host of the public URL, the `@domain` of every digest's Message-ID.
//!
//! Hand-written rather than `url::Url`: Message-IDs must stay the same across upgrades (receivers
//! de-duplicate on them), and `url` would change the host of some URLs this has always accepted
//! (it lowercases and IDNA-encodes names, normalises IPv4 forms like `0x7f.1`, and rejects a URL
//! without a scheme).

/// The host of an http(s) URL, for Message-IDs.
pub(super) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.to_owned()
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_message_id_domain_is_the_public_host() {
        assert_eq!(
            host_of("https://lodestar.example.com/base"),
            "lodestar.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("http://[::1]:8080/"), "::1");
        assert_eq!(host_of("http://u:p@host:1"), "host");
    }

    #[test]
    fn a_host_keeps_its_case_and_a_url_without_a_scheme_is_read_as_its_host() {
        assert_eq!(
            host_of("https://Lodestar.Example.com"),
            "Lodestar.Example.com"
        );
        assert_eq!(
            host_of("lodestar.example.com:8080/x"),
            "lodestar.example.com"
        );
    }
}
