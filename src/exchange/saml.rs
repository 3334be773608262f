//! Pay Now SAML 2.0 Responses: built by the exchange, checked by the insurer.
//!
//! The Assertion carries the CMS attribute names. Instead of XML-DSig with RSA, the staging exchange
//! signs with HMAC-SHA256 over the exact bytes of the `<saml:Assertion>…</saml:Assertion>` element
//! (see docs/exchange-api.md); the `ds:Signature` is a sibling of the Assertion so that those bytes
//! need no canonicalisation.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The entity id the exchange signs as.
pub const EXCHANGE_ENTITY: &str = "https://staging.exchange.surge/saml";
pub const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
const ATTR_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified";

/// The CMS Pay Now attributes, as strings exactly as carried in the Assertion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayNow {
    pub payment_transaction_id: String,
    pub market_indicator: String,
    pub assigned_qhp_identifier: String,
    pub total_amount_owed: String,
    pub premium_amount_total: String,
    pub aptc_amount: String,
    /// `MM/DD/YYYY`
    pub proposed_coverage_effective_date: String,
    pub first_name: String,
    pub last_name: String,
    pub contact_email_address: String,
    pub subscriber_identifier: String,
}

impl PayNow {
    fn attributes(&self) -> [(&'static str, &str); 11] {
        [
            ("Payment Transaction ID", &self.payment_transaction_id),
            ("Market Indicator", &self.market_indicator),
            ("Assigned QHP Identifier", &self.assigned_qhp_identifier),
            ("Total Amount Owed", &self.total_amount_owed),
            ("Premium Amount Total", &self.premium_amount_total),
            ("APTC Amount", &self.aptc_amount),
            (
                "Proposed Coverage Effective Date",
                &self.proposed_coverage_effective_date,
            ),
            ("First Name", &self.first_name),
            ("Last Name", &self.last_name),
            ("Contact Email Address", &self.contact_email_address),
            ("Subscriber Identifier", &self.subscriber_identifier),
        ]
    }

    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "Payment Transaction ID" => &mut self.payment_transaction_id,
            "Market Indicator" => &mut self.market_indicator,
            "Assigned QHP Identifier" => &mut self.assigned_qhp_identifier,
            "Total Amount Owed" => &mut self.total_amount_owed,
            "Premium Amount Total" => &mut self.premium_amount_total,
            "APTC Amount" => &mut self.aptc_amount,
            "Proposed Coverage Effective Date" => &mut self.proposed_coverage_effective_date,
            "First Name" => &mut self.first_name,
            "Last Name" => &mut self.last_name,
            "Contact Email Address" => &mut self.contact_email_address,
            "Subscriber Identifier" => &mut self.subscriber_identifier,
            _ => return, // attributes the insurer does not use are ignored
        };
        *slot = value;
    }
}

/// Why a Response was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// Not base64, not UTF-8, not XML, or missing required parts (400/1003).
    #[error("malformed SAMLResponse: {0}")]
    Malformed(String),
    /// Well-formed but refused: signature, time window, audience or destination (403/2003).
    #[error("SAMLResponse refused: {0}")]
    Refused(String),
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sign(key: &[u8], bytes: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(bytes);
    B64.encode(mac.finalize().into_bytes())
}

/// Build the `samlp:Response` XML for `attrs`, addressed to `audience` (the issuer's HIOS id) at
/// `destination` (its pay-now URL), valid from `now` − 5 s to `now` + 300 s.
pub fn build_response(
    attrs: &PayNow,
    audience: &str,
    destination: &str,
    key: &[u8],
    now: DateTime<Utc>,
) -> String {
    let issued = instant(now);
    let not_before = instant(now - Duration::seconds(5));
    let not_on_or_after = instant(now + Duration::seconds(300));
    let ptid = escape(attrs.payment_transaction_id.as_str());
    let destination = escape(destination);
    let audience = escape(audience);
    let assertion_id = format!("_a{}{}", ptid, now.timestamp());

    let mut a = String::with_capacity(3000);
    let _ = write!(
        a,
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{EXCHANGE_ENTITY}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{ptid}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{not_on_or_after}" Recipient="{destination}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_on_or_after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>"#
    );
    for (name, value) in attrs.attributes() {
        let _ = write!(
            a,
            r#"<saml:Attribute Name="{name}" NameFormat="{ATTR_FORMAT}"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
            escape(value)
        );
    }
    a.push_str("</saml:AttributeStatement></saml:Assertion>");

    let digest = B64.encode(Sha256::digest(a.as_bytes()));
    let signature = sign(key, a.as_bytes());
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{ptid}{ts}" Version="2.0" IssueInstant="{issued}" Destination="{destination}"><saml:Issuer>{EXCHANGE_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{a}<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{HMAC_SHA256}"/><ds:Reference URI="#{assertion_id}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>{signature}</ds:SignatureValue></ds:Signature></samlp:Response>"##,
        ts = now.timestamp(),
    )
}

/// base64 for the HTTP-POST binding.
pub fn encode(xml: &str) -> String {
    B64.encode(xml.as_bytes())
}

/// Everything the insurer reads from a Response.
#[derive(Debug, Default)]
struct Parsed {
    destination: Option<String>,
    not_before: Option<String>,
    not_on_or_after: Option<String>,
    audiences: Vec<String>,
    signature: Option<String>,
    signature_method: Option<String>,
    /// Byte range of the Assertion element in the document.
    assertion: Option<(usize, usize)>,
    assertions: usize,
    attrs: PayNow,
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Result<Option<String>, SamlError> {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| Some(v.into_owned()))
            .map_err(|e| SamlError::Malformed(e.to_string())),
        Ok(None) => Ok(None),
        Err(e) => Err(SamlError::Malformed(e.to_string())),
    }
}

fn parse(xml: &str) -> Result<Parsed, SamlError> {
    let bad = |e: &dyn std::fmt::Display| SamlError::Malformed(e.to_string());
    let mut reader = Reader::from_str(xml);
    let mut p = Parsed::default();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut attr_name: Option<String> = None;
    let mut saw_root = false;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| bad(&e))?;
        let opens = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let local = e.local_name().as_ref().to_vec();
                match local.as_slice() {
                    b"Response" if stack.is_empty() => {
                        saw_root = true;
                        p.destination = attr(&e, "Destination")?;
                    }
                    b"Assertion" => {
                        p.assertions += 1;
                        p.assertion = Some((before, before));
                    }
                    b"Conditions" => {
                        p.not_before = attr(&e, "NotBefore")?;
                        p.not_on_or_after = attr(&e, "NotOnOrAfter")?;
                    }
                    b"Attribute" => attr_name = attr(&e, "Name")?,
                    b"SignatureMethod" => p.signature_method = attr(&e, "Algorithm")?,
                    _ => {}
                }
                if opens {
                    stack.push(local);
                }
                text.clear();
            }
            Event::End(e) => {
                let local = e.local_name().as_ref().to_vec();
                match local.as_slice() {
                    b"Assertion" => {
                        if let Some((s, _)) = p.assertion {
                            p.assertion = Some((s, reader.buffer_position() as usize));
                        }
                    }
                    b"Audience" => p.audiences.push(text.trim().to_string()),
                    b"SignatureValue" => p.signature = Some(text.trim().to_string()),
                    b"AttributeValue" => {
                        if let Some(name) = attr_name.as_deref() {
                            p.attrs.set(name, text.clone());
                        }
                    }
                    b"Attribute" => attr_name = None,
                    _ => {}
                }
                stack.pop();
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Event::CData(t) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| bad(&e))? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| bad(&e))?;
                    let entity = format!("&{name};");
                    text.push_str(&quick_xml::escape::unescape(&entity).map_err(|e| bad(&e))?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(SamlError::Malformed("no samlp:Response element".into()));
    }
    Ok(p)
}

/// Check a base64 SAMLResponse as the insurer `audience` at `destination`, at time `now`.
pub fn verify(
    b64: &str,
    key: &[u8],
    audience: &str,
    destination: &str,
    now: DateTime<Utc>,
) -> Result<PayNow, SamlError> {
    // Browsers may wrap long base64 values; ignore whitespace.
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = B64
        .decode(compact.as_bytes())
        .map_err(|e| SamlError::Malformed(format!("not base64: {e}")))?;
    let xml =
        std::str::from_utf8(&bytes).map_err(|e| SamlError::Malformed(format!("not UTF-8: {e}")))?;
    let p = parse(xml)?;

    if p.assertions != 1 {
        return Err(SamlError::Refused(format!(
            "expected exactly one Assertion, found {}",
            p.assertions
        )));
    }
    let (start, end) = p.assertion.unwrap_or((0, 0));
    let signed = xml.as_bytes().get(start..end).filter(|s| !s.is_empty());
    let (Some(signed), Some(signature)) = (signed, p.signature.as_deref()) else {
        return Err(SamlError::Refused("unsigned Assertion".into()));
    };
    if p.signature_method.as_deref() != Some(HMAC_SHA256) {
        return Err(SamlError::Refused("unsupported signature method".into()));
    }
    let given = B64
        .decode(signature)
        .map_err(|_| SamlError::Refused("signature is not base64".into()))?;
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| SamlError::Refused(e.to_string()))?;
    mac.update(signed);
    // verify_slice compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| SamlError::Refused("bad signature".into()))?;

    let time = |v: Option<&str>, what: &str| -> Result<DateTime<Utc>, SamlError> {
        let v = v.ok_or_else(|| SamlError::Refused(format!("no {what}")))?;
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| SamlError::Refused(format!("bad {what} {v:?}")))
    };
    let not_before = time(p.not_before.as_deref(), "NotBefore")?;
    let not_on_or_after = time(p.not_on_or_after.as_deref(), "NotOnOrAfter")?;
    if now < not_before {
        return Err(SamlError::Refused(format!(
            "not valid before {}",
            instant(not_before)
        )));
    }
    if now >= not_on_or_after {
        return Err(SamlError::Refused(format!(
            "expired at {}",
            instant(not_on_or_after)
        )));
    }
    if !p.audiences.iter().any(|a| a == audience) {
        return Err(SamlError::Refused(format!("audience is not {audience}")));
    }
    if p.destination.as_deref() != Some(destination) {
        return Err(SamlError::Refused(format!(
            "destination is not {destination}"
        )));
    }
    if p.attrs.payment_transaction_id.is_empty() {
        return Err(SamlError::Refused("no Payment Transaction ID".into()));
    }
    Ok(p.attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PayNow {
        PayNow {
            payment_transaction_id: "0000000000042".into(),
            market_indicator: "Individual".into(),
            assigned_qhp_identifier: "11512NC010000101".into(),
            total_amount_owed: "253.89".into(),
            premium_amount_total: "402.10".into(),
            aptc_amount: "148.21".into(),
            proposed_coverage_effective_date: "01/01/2014".into(),
            first_name: "JANE".into(),
            last_name: "O'NEIL & SONS".into(),
            contact_email_address: "jane@example.com".into(),
            subscriber_identifier: "0000000042".into(),
        }
    }

    const KEY: &[u8] = b"k";
    const DEST: &str = "http://127.0.0.1:1/issuers/11512/pay-now";

    #[test]
    fn round_trip() {
        let now = Utc::now();
        let b64 = encode(&build_response(&sample(), "11512", DEST, KEY, now));
        assert_eq!(verify(&b64, KEY, "11512", DEST, now), Ok(sample()));
    }

    #[test]
    fn refusals() {
        let now = Utc::now();
        let xml = build_response(&sample(), "11512", DEST, KEY, now);
        let refused = |r: Result<PayNow, SamlError>| matches!(r, Err(SamlError::Refused(_)));
        assert!(refused(verify(&encode(&xml), b"other", "11512", DEST, now)));
        assert!(refused(verify(&encode(&xml), KEY, "54332", DEST, now)));
        assert!(refused(verify(
            &encode(&xml),
            KEY,
            "11512",
            "http://x/",
            now
        )));
        assert!(refused(verify(
            &encode(&xml),
            KEY,
            "11512",
            DEST,
            now + Duration::seconds(301)
        )));
        assert!(refused(verify(
            &encode(&xml.replace("253.89", "0.01")),
            KEY,
            "11512",
            DEST,
            now
        )));
        assert!(matches!(
            verify("%%%", KEY, "11512", DEST, now),
            Err(SamlError::Malformed(_))
        ));
        assert!(matches!(
            verify(&encode("<a>"), KEY, "11512", DEST, now),
            Err(SamlError::Malformed(_))
        ));
    }
}
