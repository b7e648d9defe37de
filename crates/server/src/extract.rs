//! Extractors that turn axum's own rejections (bad JSON body, query string or path) into
//! [`ApiError`]s, so every 4xx has the same JSON shape and says what is wrong.

use crate::error::{ApiError, Code, Error};
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::Uri;
use serde::de::DeserializeOwned;

/// A JSON body, whatever the Content-Type says (`curl -d` sends a form type).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Error::invalid(Code::InvalidBody, None, e.body_text()))?;
        let text = if bytes.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { &bytes[..] };
        let mut value: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| Error::invalid(Code::InvalidJson, None, format!("the body is not a valid request: {e}")))?;
        whole_numbers(&mut value);
        Ok(serde_path_to_error::deserialize(Body(value)).map(ApiJson).map_err(misfit)?)
    }
}

/// A body that is JSON but not the request: the field that is wrong (`filter.from`,
/// `steps[2]`) in the error and first in its message; none when the body as a whole is.
fn misfit(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = e.path().to_string();
    match path.as_str() {
        "." => Error::invalid(Code::InvalidJson, None, format!("the body is not a valid request: {}", e.inner())),
        _ => Error::invalid(Code::InvalidJson, Some(path.clone()), format!("{path}: {}", e.inner())),
    }
}

/// A request body, where a struct comes from an object only: serde would also take an
/// array of its fields in order, which no one sends on purpose and no document describes.
struct Body(serde_json::Value);

impl<'de> serde::Deserializer<'de> for Body {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::{Error, Unexpected};
        use serde_json::Value;
        let unexpected = match &self.0 {
            Value::Object(_) => return self.0.deserialize_struct(name, fields, visitor),
            Value::Array(_) => Unexpected::Seq,
            Value::String(s) => Unexpected::Str(s),
            Value::Number(_) => Unexpected::Other("a number"),
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Null => Unexpected::Unit,
        };
        Err(serde_json::Error::invalid_type(unexpected, &"an object"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Write every whole number as an integer: JSON has one kind of number, and `5.0` is the
/// integer 5 to every client and to JSON Schema, so a field that takes an integer takes it.
fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                // Strictly inside the 64-bit ranges: an integer written past them (below
                // -2^63, above 2^64 - 1) is read as a float that rounds to their ends.
                let two_63 = -(i64::MIN as f64);
                if f > -two_63 && f < two_63 {
                    *v = Value::from(f as i64);
                } else if (0.0..2.0 * two_63).contains(&f) {
                    *v = Value::from(f as u64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// A query string. A parameter with an empty value (`?cursor=`) counts as not given, as
/// an HTML form sends an empty field.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let given = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form_urlencoded::parse(query.as_bytes()).filter(|(_, v)| !v.is_empty()))
            .finish();
        let uri: Uri = format!("/?{given}")
            .parse()
            .map_err(|e| Error::invalid(Code::InvalidQuery, None, format!("the query string is not valid: {e}")))?;
        match Query::<T>::try_from_uri(&uri) {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(Error::invalid(Code::InvalidQuery, None, e.body_text()).into()),
        }
    }
}

/// The parameters in a route's path (`/api/rules/{id}`). One that does not parse (an id
/// past the 64-bit range, a text that is not UTF-8) is a JSON 400 naming the parameter,
/// like every other bad request.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let rejection = match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => return Ok(ApiPath(v)),
            Err(e) => e,
        };
        // A single value's error does not say which parameter it was; the route does.
        let names: Vec<String> = match RawPathParams::from_request_parts(parts, state).await {
            Ok(raw) => raw.iter().map(|(k, _)| k.to_string()).collect(),
            Err(_) => vec![],
        };
        let only = match names.as_slice() {
            [one] => one.clone(),
            _ => "path".to_string(),
        };
        let (field, message) = match &rejection {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
                    (key.clone(), not_a(key, value, expected_type))
                }
                ErrorKind::ParseError { value, expected_type } => (only.clone(), not_a(&only, value, expected_type)),
                ErrorKind::InvalidUtf8InPathParam { key } => {
                    (key.clone(), format!("{key}: is not valid UTF-8 once percent-decoded"))
                }
                ErrorKind::DeserializeError { key, value, message } => {
                    (key.clone(), format!("{key}: {value:?} is not valid: {message}"))
                }
                other => (only.clone(), format!("{only}: {other}")),
            },
            other => (only.clone(), format!("{only}: {}", other.body_text())),
        };
        Err(Error::invalid(Code::InvalidPath, Some(field), message).into())
    }
}

/// `id: "x" is not a whole number …`, for a path value that does not parse as `ty`.
fn not_a(key: &str, value: &str, ty: &str) -> String {
    let what = match ty {
        "i64" => "a whole number from -9223372036854775808 to 9223372036854775807".to_string(),
        "i32" => "a whole number from -2147483648 to 2147483647".to_string(),
        "u64" | "usize" => "a whole number from 0 to 18446744073709551615".to_string(),
        other => format!("a valid {other}"),
    };
    format!("{key}: {value:?} is not {what}")
}
