//! Logs and metrics: JSON tracing through the Lambda runtime, metrics as CloudWatch EMF lines.

pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// One CloudWatch Embedded Metric Format record: counters an operator would graph.
pub fn metrics(function: &str, values: &[(&str, f64)]) {
    let names: Vec<_> = values.iter().map(|(k, _)| serde_json::json!({ "Name": k, "Unit": "Count" })).collect();
    let mut rec = serde_json::json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{ "Namespace": "SaasBackend", "Dimensions": [["function"]], "Metrics": names }]
        },
        "function": function,
    });
    for (k, v) in values {
        rec[*k] = serde_json::json!(v);
    }
    println!("{rec}");
}
