// Package openbaotest is an OpenBao / HashiCorp Vault emulator for tests: a
// loopback HTTP server that speaks the subset of the /v1/ API a credential
// broker uses (KV v1 and v2 read and list, the token, AppRole, Kubernetes
// and JWT logins, token lookup and renewal, leased database credentials
// and sys/leases/{renew,revoke,lookup}, namespaces), with the paths, JSON
// envelope, status codes and {"errors": [...]} bodies of the real server.
// Its reference is the wire document the plugin was built from
// (openbao-wire.md); the unmodified OpenBao Go client (api/v2) is this
// package's test of fidelity.
//
// # Use
//
//	e := openbaotest.New(t) // started on 127.0.0.1, closed at cleanup
//	e.AddToken(openbaotest.Token{ID: "root-ish", Policies: []string{"*"}})
//	e.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}})
//	e.PutSecret("", "secret", "app/stripe", map[string]any{"API_KEY": "v1"})
//	e.AddDatabaseRole("", "database", openbaotest.DBRole{Name: "readonly", TTL: time.Hour})
//	e.Inject(openbaotest.RouteKVRead, openbaotest.Status(500).Times(3))
//	... point the code under test at e.URL() ...
//	if e.Counts().LeasesMinted != 1 { ... }
//
// # Behaviour worth knowing
//
//   - Mounts: "secret" is a KV v2 mount and "database" a database mount in
//     every namespace; MountKV adds others (v1 or v2).
//   - Policies are path prefixes relative to the token's namespace ("*"
//     allows everything, "secret/data/app/" one subtree). A denied path, and
//     a missing, expired or revoked token, answer 403 permission denied, as
//     the real server does; the token self-routes are always allowed.
//   - Namespaces: CreateNamespace("team-a") makes one; a request's
//     namespace is its X-Vault-Namespace header joined with any namespace
//     prefix of its path. A header naming no namespace answers 404
//     namespace not found. Tokens, logins and leases belong to the
//     namespace they were made in; lease IDs end in .<nsID> outside root.
//   - Time: the Clock follows the wall clock unless frozen; Advance moves
//     it for tokens and leases alike. A lease past its expiry is revoked
//     (counted in LeasesExpired) when the emulator is next asked anything.
//   - Faults apply per route, in the order injected, for every call or the
//     next Times(n) calls; OnPath narrows one to paths containing a text.
//     ExpireTokens, FailRevokes and ExpireLease are state knobs.
//   - Down: Stop refuses connections until Start, on the same address,
//     with state kept. Hang holds a request until the client gives up or
//     the emulator stops.
package openbaotest
