package domain

// CodeMetricsDisabled: GET /metrics on a server started with --no-metrics.
const CodeMetricsDisabled = "metrics_disabled"
