//! A project's brand (name, colour, logo, privacy link, default language, site origins):
//! the checks of project settings that change it, and the small parsers the survey pages
//! share with them. A field not given is kept, an empty text removes it.

use crate::read::ProjectSettings;
use touchpoint_core::Lang;
use touchpoint_store::Brand;

/// `#rrggbb` as red, green and blue.
pub fn parse_color(c: &str) -> Option<[u8; 3]> {
    let hex = c.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let at = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([at(0)?, at(2)?, at(4)?])
}

/// The origin (`https://host[:port]`) of an https URL that is safe to put in a page and
/// its CSP: a host of letters, digits, dots and hyphens, an optional port, no user
/// name, no spaces, quotes or angle brackets anywhere.
pub fn https_origin(url: &str) -> Option<String> {
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c)) {
        return None;
    }
    let rest = url.get(..8).filter(|p| p.eq_ignore_ascii_case("https://")).map(|_| &url[8..])?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && host.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if !host_ok {
        return None;
    }
    let host = host.to_ascii_lowercase();
    match port {
        None => Some(format!("https://{host}")),
        Some(p) => {
            let n: u16 = p.parse().ok().filter(|_| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
            Some(if n == 443 { format!("https://{host}") } else { format!("https://{host}:{n}") })
        }
    }
}

/// The brand part of project settings (`PUT /api/project`, `touchpoint project set`),
/// checked here beside the pages that show it: a field not given is kept, an empty text
/// removes it.
impl ProjectSettings {
    /// The brand after these settings, or the field that is wrong and why.
    pub fn brand_after(&self, brand: &Brand) -> Result<Brand, (&'static str, String)> {
        fn set(
            field: &'static str,
            now: &Option<String>,
            given: &Option<String>,
            check: impl Fn(&str) -> Result<String, String>,
        ) -> Result<Option<String>, (&'static str, String)> {
            match given.as_deref().map(str::trim) {
                None => Ok(now.clone()),
                Some("") => Ok(None),
                Some(v) => check(v).map(Some).map_err(|e| (field, format!("{field}: {e}"))),
            }
        }
        let https = |v: &str| match https_origin(v) {
            Some(_) => Ok(v.to_string()),
            None => Err("an https URL (https://…), without spaces or quotes, at most 2000 characters".to_string()),
        };
        Ok(Brand {
            brand_name: set("brand_name", &brand.brand_name, &self.brand_name, |v| {
                if v.chars().count() > 100 || v.chars().any(char::is_control) {
                    Err("at most 100 characters, on one line".into())
                } else {
                    Ok(v.to_string())
                }
            })?,
            brand_color: set("brand_color", &brand.brand_color, &self.brand_color, |v| match parse_color(v) {
                Some(_) => Ok(v.to_ascii_lowercase()),
                None => Err("a colour as #rrggbb, e.g. #2e7d32".into()),
            })?,
            brand_logo_url: set("brand_logo_url", &brand.brand_logo_url, &self.brand_logo_url, https)?,
            privacy_url: set("privacy_url", &brand.privacy_url, &self.privacy_url, https)?,
            default_lang: set("default_lang", &brand.default_lang, &self.default_lang, |v| {
                match Lang::parse(v).filter(|_| v.len() <= 16) {
                    Some(l) => Ok(l.code().to_string()),
                    None => Err("en, cs or pl".into()),
                }
            })?,
            site_origins: set("site_origins", &brand.site_origins, &self.site_origins, |v| {
                let all: Vec<&str> = v.split_whitespace().collect();
                match all.iter().find(|o| !crate::config::is_origin(o)) {
                    _ if all.len() > 20 || v.chars().count() > 2000 => Err("at most 20 origins".into()),
                    Some(bad) => Err(format!("{bad:?} is not an origin like https://shop.example")),
                    None => Ok(all.join(" ")),
                }
            })?,
        })
    }
}
