//! LuaSocket's `socket.headers`: the canonic capitalization of HTTP and
//! SMTP header names.
//!
//! In Lua, `socket.headers.canonic` is a table from a lowercase field name
//! to its canonic spelling (`canonic["content-md5"] == "Content-MD5"`), and
//! a name missing from it is sent as it is. Here [`lookup`] is that table
//! (exact lowercase key, `None` when missing) and [`canonic`] is the helper
//! a porter usually wants: any case in, the canonic spelling out, with a
//! fallback that capitalizes each dash-separated word. The table is fixed
//! at compile time; Lua code that adds entries at run time should keep its
//! own map in front of [`canonic`].
//!
//! ```
//! use sockloop::luasocket::headers;
//! // for name, value in pairs(h) do out[socket.headers.canonic[name] or name] = value end
//! assert_eq!(headers::canonic("content-md5"), "Content-MD5");
//! assert_eq!(headers::lookup("x-custom"), None);
//! assert_eq!(headers::canonic("x-custom"), "X-Custom");
//! ```

use std::borrow::Cow;

/// Lowercase name -> canonic spelling, sorted by the lowercase name (the
/// lookup is a binary search; a unit test keeps the order honest).
const CANONIC: &[(&str, &str)] = &[
    ("accept", "Accept"),
    ("accept-charset", "Accept-Charset"),
    ("accept-encoding", "Accept-Encoding"),
    ("accept-language", "Accept-Language"),
    ("accept-ranges", "Accept-Ranges"),
    ("action", "Action"),
    ("age", "Age"),
    ("allow", "Allow"),
    ("alternate-recipient", "Alternate-Recipient"),
    ("arrival-date", "Arrival-Date"),
    ("authorization", "Authorization"),
    ("bcc", "Bcc"),
    ("cache-control", "Cache-Control"),
    ("cc", "Cc"),
    ("comments", "Comments"),
    ("connection", "Connection"),
    ("content-description", "Content-Description"),
    ("content-disposition", "Content-Disposition"),
    ("content-encoding", "Content-Encoding"),
    ("content-id", "Content-ID"),
    ("content-language", "Content-Language"),
    ("content-length", "Content-Length"),
    ("content-location", "Content-Location"),
    ("content-md5", "Content-MD5"),
    ("content-range", "Content-Range"),
    ("content-transfer-encoding", "Content-Transfer-Encoding"),
    ("content-type", "Content-Type"),
    ("cookie", "Cookie"),
    ("date", "Date"),
    ("diagnostic-code", "Diagnostic-Code"),
    ("dsn-gateway", "DSN-Gateway"),
    ("etag", "ETag"),
    ("expect", "Expect"),
    ("expires", "Expires"),
    ("final-log-id", "Final-Log-ID"),
    ("final-recipient", "Final-Recipient"),
    ("from", "From"),
    ("host", "Host"),
    ("if-match", "If-Match"),
    ("if-modified-since", "If-Modified-Since"),
    ("if-none-match", "If-None-Match"),
    ("if-range", "If-Range"),
    ("if-unmodified-since", "If-Unmodified-Since"),
    ("in-reply-to", "In-Reply-To"),
    ("keywords", "Keywords"),
    ("last-attempt-date", "Last-Attempt-Date"),
    ("last-modified", "Last-Modified"),
    ("location", "Location"),
    ("max-forwards", "Max-Forwards"),
    ("message-id", "Message-ID"),
    ("mime-version", "MIME-Version"),
    ("original-envelope-id", "Original-Envelope-ID"),
    ("original-recipient", "Original-Recipient"),
    ("pragma", "Pragma"),
    ("proxy-authenticate", "Proxy-Authenticate"),
    ("proxy-authorization", "Proxy-Authorization"),
    ("range", "Range"),
    ("received", "Received"),
    ("received-from-mta", "Received-From-MTA"),
    ("references", "References"),
    ("referer", "Referer"),
    ("remote-mta", "Remote-MTA"),
    ("reply-to", "Reply-To"),
    ("reporting-mta", "Reporting-MTA"),
    ("resent-bcc", "Resent-Bcc"),
    ("resent-cc", "Resent-Cc"),
    ("resent-date", "Resent-Date"),
    ("resent-from", "Resent-From"),
    ("resent-message-id", "Resent-Message-ID"),
    ("resent-reply-to", "Resent-Reply-To"),
    ("resent-sender", "Resent-Sender"),
    ("resent-to", "Resent-To"),
    ("retry-after", "Retry-After"),
    ("return-path", "Return-Path"),
    ("sender", "Sender"),
    ("server", "Server"),
    ("set-cookie", "Set-Cookie"),
    ("smtp-remote-recipient", "SMTP-Remote-Recipient"),
    ("status", "Status"),
    ("subject", "Subject"),
    ("te", "TE"),
    ("to", "To"),
    ("trailer", "Trailer"),
    ("transfer-encoding", "Transfer-Encoding"),
    ("upgrade", "Upgrade"),
    ("user-agent", "User-Agent"),
    ("vary", "Vary"),
    ("via", "Via"),
    ("warning", "Warning"),
    ("will-retry-until", "Will-Retry-Until"),
    ("www-authenticate", "WWW-Authenticate"),
    ("x-mailer", "X-Mailer"),
];

/// The table itself: `socket.headers.canonic[lower]`.
///
/// `lower` must already be lowercase, as a Lua table key would be; a name
/// the table does not list gives `None` (Lua's `nil`).
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::headers;
///
/// assert_eq!(headers::lookup("www-authenticate"), Some("WWW-Authenticate"));
/// assert_eq!(headers::lookup("Content-Type"), None); // keys are lowercase
/// assert_eq!(headers::lookup("x-custom"), None);
/// ```
pub fn lookup(lower: &str) -> Option<&'static str> {
    CANONIC
        .binary_search_by(|(key, _)| (*key).cmp(lower))
        .ok()
        .map(|i| CANONIC[i].1)
}

/// The canonic capitalization of a header name, whatever its case.
///
/// A name in LuaSocket's table gets the table's spelling (`"content-md5"`
/// -> `"Content-MD5"`, `"te"` -> `"TE"`); any other name gets each
/// dash-separated word capitalized (`"x-request-id"` -> `"X-Request-Id"`),
/// which is what HTTP/1.1 peers conventionally send. LuaSocket itself sends
/// an unlisted name unchanged; call [`lookup`] for that exact behaviour.
///
/// # Examples
///
/// ```
/// use sockloop::luasocket::headers::canonic;
///
/// assert_eq!(canonic("content-type"), "Content-Type");
/// assert_eq!(canonic("CONTENT-MD5"), "Content-MD5");
/// assert_eq!(canonic("x-request-id"), "X-Request-Id");
/// ```
pub fn canonic(name: &str) -> Cow<'static, str> {
    let lower = name.to_ascii_lowercase();
    if let Some(c) = lookup(&lower) {
        return Cow::Borrowed(c);
    }
    let mut out = String::with_capacity(lower.len());
    let mut start_of_word = true;
    for ch in lower.chars() {
        if start_of_word {
            out.push(ch.to_ascii_uppercase());
        } else {
            out.push(ch);
        }
        start_of_word = ch == '-';
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_lowercase_and_consistent() {
        for pair in CANONIC.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} !< {}", pair[0].0, pair[1].0);
        }
        for (lower, canon) in CANONIC {
            assert_eq!(lower.to_ascii_lowercase(), *lower);
            assert_eq!(canon.to_ascii_lowercase(), *lower);
            assert_eq!(lookup(lower), Some(*canon));
        }
    }
}
