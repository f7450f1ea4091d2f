package domain

// Stable codes for running as one of several replicas.
const (
	// CodeNotReady: this replica should not receive traffic yet: its
	// database is unreachable, or its caches may be missing changes made
	// through other replicas (GET /ready).
	CodeNotReady = "not_ready"
)
