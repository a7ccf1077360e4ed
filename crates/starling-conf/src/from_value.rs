//! Typed options: [`FromValue`] reads a value as a Rust type, with the
//! error at the value's place naming the option; for every block reader.

use std::time::Duration;

use crate::{ConfError, Value};

/// A typed option read from a configuration value, its errors at the
/// value's place and naming the option.
///
/// ```
/// use std::time::Duration;
///
/// let root = starling_conf::parse_str("ping_interval: \"30s\"\nhosts: a")?;
/// let map = root.as_map("top level")?;
/// let interval: Duration = map.get("ping_interval").expect("set").read("ping_interval")?;
/// assert_eq!(interval, Duration::from_secs(30));
/// let hosts: Vec<String> = map.get("hosts").expect("set").read("hosts")?;
/// assert_eq!(hosts, ["a"]);
/// # Ok::<(), starling_conf::ConfError>(())
/// ```
pub trait FromValue: Sized {
    /// Reads `value`, the value of `option`.
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError>;
}

impl FromValue for bool {
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError> {
        value.as_bool(option)
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError> {
        value.as_integer(option)
    }
}

impl FromValue for String {
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError> {
        value.as_str(option).map(str::to_owned)
    }
}

impl FromValue for std::path::PathBuf {
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError> {
        value.as_str(option).map(Self::from)
    }
}

impl FromValue for Duration {
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError> {
        value.as_duration(option)
    }
}

/// One value or an array of them.
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value, option: &str) -> Result<Self, ConfError> {
        value
            .one_or_many()
            .iter()
            .map(|item| T::from_value(item, option))
            .collect()
    }
}
