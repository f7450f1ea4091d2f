// Package infisicaltest is an Infisical emulator for tests: a loopback HTTP
// server that speaks the subset of Infisical's wire format a credential
// broker uses (the machine-identity logins, token renew and revoke, raw
// secret listing, project lookup, dynamic secrets and their leases), with
// the exact paths, JSON field names, status codes and error bodies of the
// real server. Its reference is the wire document the broker was built from
// (infisical-wire.md); the unmodified Infisical Go SDK is this package's
// test of fidelity.
//
// # Use
//
//	e := infisicaltest.New(t) // started on 127.0.0.1, closed at cleanup
//	e.AddIdentity(infisicaltest.Identity{ID: "id-1", Universal: &infisicaltest.UniversalAuth{ClientID: "cid", ClientSecret: "cs"}})
//	e.AddProject(infisicaltest.Project{ID: "p-1", Slug: "my-proj", Environments: []string{"dev"}})
//	e.SetSecrets("p-1", "dev", "/", map[string]string{"API_KEY": "v1"})
//	e.AddDynamicSecret("p-1", "dev", "/", infisicaltest.DynamicSecret{Name: "db-postgres"})
//	e.Inject(infisicaltest.RouteListSecrets, infisicaltest.Status(500).Times(3))
//	... point the code under test at e.URL() (no /api suffix) ...
//	if e.Counts().LeasesMinted != 1 { ... }
//
// # Behaviour worth knowing
//
//   - State: setters create projects, environments and folders on first
//     use; an identity without an Access entry has full access to every
//     project of its organisation.
//   - Versions: where the real server's behaviour changed, the emulator
//     follows the current server and offers the older behaviour as a
//     switch (SetLegacyMissingPath, SetExpiredTokenStatus).
//   - Time: the Clock follows the wall clock unless frozen; Advance moves it
//     for tokens and leases alike. Keep the wall clock when the code under
//     test compares expireAt with its own clock (a server process); freeze
//     it for reproducible bodies. Leases whose expireAt has passed are
//     deleted (and counted in LeasesExpired) when the emulator is next
//     asked anything, which is what a test can observe of the real
//     server's once-a-second revocation queue.
//   - Determinism: IDs, request IDs and tokens are sequential, so with a
//     frozen clock every answer is byte-for-byte reproducible (see the
//     golden files in testdata).
//   - Observation: Counts counts operations the emulator completed; Hits
//     and the request log count every request, faulted or not. The log
//     holds headers and bodies, which carry credentials: assert on them,
//     never print them. WithLogf logs method, path and status only.
//   - Faults apply per route, in the order injected, for every call or the
//     next Times(n) calls, optionally After(n) calls have passed. Post-
//     processing faults (NonJSON, MalformedJSON, SlowBody) run the real
//     handler first, so state changes (a minted lease) happen as they would
//     on a real server whose answer got mangled on the way.
//   - Down: Stop refuses connections until Start, on the same address, with
//     state kept. Hang holds a request until the client gives up, Stop, or
//     ReleaseHangs.
package infisicaltest
