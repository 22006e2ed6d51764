//! Security headers on every answer: a Content-Security-Policy that lets pages load only
//! this server's own scripts, styles and connections and never be framed, no MIME sniffing,
//! no referrer, and Strict-Transport-Security when the server sits behind HTTPS
//! (`http.secure_cookie`). The API docs page (Swagger UI, which sets inline styles) may also
//! apply inline styles; scripts stay this server's own everywhere.

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The policy with `$style` as its `style-src`: same-origin everything, images also as
/// `data:` URLs (the docs page's icons), no inline script anywhere.
macro_rules! content_security {
    ($style:literal) => {
        concat!(
            "default-src 'self'; script-src 'self'; style-src ",
            $style,
            "; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    };
}

/// Every page's policy: the web UI has no inline script or style.
pub const CONTENT_SECURITY: &str = content_security!("'self'");

/// The API docs page's policy: its Swagger UI applies inline styles.
pub const DOCS_CONTENT_SECURITY: &str = content_security!("'self' 'unsafe-inline'");

/// Two years, subdomains included.
const STRICT_TRANSPORT: &str = "max-age=63072000; includeSubDomains";

/// Whether the server is reached over HTTPS (then browsers are told to keep to it).
#[derive(Debug, Clone, Copy)]
pub struct OverHttps(pub bool);

/// Adds the security headers to an answer (those a handler set itself are kept).
pub async fn add(State(https): State<OverHttps>, request: Request, next: Next) -> Response {
    let policy = match request.uri().path().starts_with(super::DOCS_PATH) {
        true => DOCS_CONTENT_SECURITY,
        false => CONTENT_SECURITY,
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(CONTENT_SECURITY_POLICY, policy);
    set(X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(X_FRAME_OPTIONS, "DENY");
    set(REFERRER_POLICY, "no-referrer");
    if https.0 {
        set(STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policies_differ_only_in_inline_styles() {
        assert_eq!(
            CONTENT_SECURITY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        );
        assert_eq!(
            DOCS_CONTENT_SECURITY,
            CONTENT_SECURITY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        );
    }
}
