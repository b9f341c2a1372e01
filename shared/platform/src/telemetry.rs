//! Logs and metrics: JSON tracing through the Lambda runtime; metrics as CloudWatch embedded metric
//! format (EMF) documents, written by `metrics_cloudwatch_embedded` (the `metrics` facade's EMF
//! recorder) to stdout, where Lambda's log stream hands them to CloudWatch.

use std::io::Write;
use std::sync::OnceLock;

use metrics::Unit;
use metrics_cloudwatch_embedded::{Builder, Collector};

/// The CloudWatch namespace of every metric; the alarms in template.yaml name it too.
pub const NAMESPACE: &str = "SaasBackend";

/// A metric's value: a count added over the period, or a reading in seconds (the latest wins).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Count(u64),
    Seconds(f64),
}

pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// One recorder per process, its `function` dimension fixed by the first caller (one binary is
/// one function). None if another recorder was installed first: metrics are then skipped, logged once.
fn collector(function: &str) -> Option<&'static Collector> {
    static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();
    *COLLECTOR.get_or_init(|| {
        Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_dimension("function", function.to_owned())
            // A zero is a data point: "no mail failed this run" keeps an alarm's period filled.
            .emit_zeros(true)
            .init()
            .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed; metrics are skipped"))
            .ok()
    })
}

/// Records the values and writes them at once as one EMF document on stdout.
pub fn metrics(function: &str, values: &[(&'static str, Value)]) {
    let out = std::io::stdout();
    if let Err(e) = write_metrics(function, values, out.lock()) {
        tracing::warn!(error = %e, "metrics not written");
    }
}

fn write_metrics(function: &str, values: &[(&'static str, Value)], writer: impl Write) -> std::io::Result<()> {
    let Some(collector) = collector(function) else {
        return Ok(());
    };
    for &(name, value) in values {
        match value {
            Value::Count(n) => {
                metrics::describe_counter!(name, Unit::Count, "");
                metrics::counter!(name).increment(n);
            }
            Value::Seconds(s) => {
                metrics::describe_gauge!(name, Unit::Seconds, "");
                metrics::gauge!(name).set(s);
            }
        }
    }
    collector.flush(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_one_emf_document_in_the_namespace_with_the_function_dimension() -> anyhow::Result<()> {
        let mut out = Vec::new();
        write_metrics("renewal", &[("Charged", Value::Count(2)), ("LagProbe", Value::Seconds(1.5))], &mut out)?;
        let text = String::from_utf8(out)?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "one document: {text}");
        let doc: serde_json::Value = serde_json::from_str(lines[0])?;
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], NAMESPACE);
        assert_eq!(cw["Dimensions"][0], serde_json::json!(["function"]));
        assert_eq!(doc["function"], "renewal");
        assert_eq!(doc["Charged"], 2);
        assert_eq!(doc["LagProbe"], 1.5);
        let unit = |name: &str| {
            cw["Metrics"].as_array().and_then(|ms| ms.iter().find(|m| m["Name"] == name)).map(|m| m["Unit"].clone())
        };
        assert_eq!(unit("Charged"), Some(serde_json::json!("Count")));
        assert_eq!(unit("LagProbe"), Some(serde_json::json!("Seconds")));
        assert!(doc["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 1_700_000_000_000));

        // A counter is a delta: the next document carries what was added since, zero included.
        let mut again = Vec::new();
        write_metrics("renewal", &[("LagProbe", Value::Seconds(0.5))], &mut again)?;
        let doc: serde_json::Value = serde_json::from_slice(&again)?;
        assert_eq!(doc["Charged"], 0);
        assert_eq!(doc["LagProbe"], 0.5);
        Ok(())
    }
}
