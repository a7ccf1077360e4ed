//! The Prometheus text exposition format (0.0.4): families of gauges with
//! their help text, labels escaped, integers printed without a fraction.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A sample's labels, in order.
pub(super) type Labels = Vec<(&'static str, String)>;

/// Metric families by name: help text and samples.
#[derive(Default)]
pub(super) struct Exposition {
    families: BTreeMap<String, (String, Vec<(Labels, f64)>)>,
}

impl Exposition {
    pub(super) fn gauge(&mut self, name: &str, help: &str, labels: Labels, value: f64) {
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| (help.to_owned(), Vec::new()));
        family.1.push((labels, value));
    }

    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        for (name, (help, samples)) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in samples {
                out.push_str(name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (key, text)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{key}=\"{}\"", escape_label(text));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", number(*value));
            }
        }
        out
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: integers without a fraction, as Go prints them.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_escapes_and_prints_integers_plainly() {
        let mut out = Exposition::default();
        out.gauge("a_b", "help", vec![("value", "x\"y\\".to_owned())], 3.0);
        out.gauge("a_b", "help", vec![], 0.25);
        assert_eq!(
            out.render(),
            "# HELP a_b help\n# TYPE a_b gauge\na_b{value=\"x\\\"y\\\\\"} 3\na_b 0.25\n"
        );
    }
}
