// Package infisicaltest is an Infisical emulator for tests: a loopback HTTP
// server that speaks the subset of Infisical's wire format a credential
// broker uses (machine-identity logins, token renew and revoke, raw secret
// listing, project lookup, dynamic secrets and their leases), with the exact
// paths, JSON field names, status codes and error bodies of the real server.
//
// Tests set state through Go methods (identities, projects, secrets, dynamic
// secrets, permissions, a controllable clock), inject faults per route
// (status codes, expired tokens, delays, hangs, broken bodies, dropped
// connections, failing revokes) and assert on counters and a request log.
//
// The reference for every behaviour is the wire document the broker was
// built from (infisical-wire.md). Where the real server's behaviour depends
// on its version, the emulator follows the current server and offers a
// switch for the older behaviour (see SetLegacyMissingPath and
// SetExpiredTokenStatus).
//
// Its fidelity is tested by driving it with the unmodified Infisical Go SDK.
package infisicaltest
