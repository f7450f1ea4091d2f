package authz

import "github.com/agent-vault/agent-vault/host/domain"

const (
	owner    = domain.InstanceOwner
	member   = domain.InstanceMember
	noAccess = domain.InstanceNoAccess

	vAdmin  = domain.VaultAdmin
	vMember = domain.VaultMember
	vProxy  = domain.VaultProxy

	users    = AllowUser
	everyone = AllowUser | AllowAgent | AllowSession
)

// Policy is the one table every operation consults, keyed by OpenAPI
// operation id. Agents and scoped sessions never change configuration: they
// read what they need and ask humans (through proposals) for the rest.
var Policy = map[string]Rule{
	// Open to anyone.
	"get-health":    {Public: true},
	"get-ready":     {Public: true},
	"get-status":    {Public: true},
	"register":      {Public: true},
	"login":         {Public: true},
	"accept-invite": {Public: true},
	"get-mitm-ca":   {Public: true},

	// The caller's own identity.
	"get-me": {Actors: everyone, Instance: noAccess},
	"logout": {Actors: users, Instance: noAccess},

	// A person's own account and sign-ins. A reset link is its own
	// credential: whoever holds it may read whose it is and use it once.
	"change-password":             {Actors: users, Instance: noAccess},
	"delete-my-account":           {Actors: users, Instance: noAccess},
	"list-login-sessions":         {Actors: users, Instance: noAccess},
	"revoke-login-session":        {Actors: users, Instance: noAccess},
	"revoke-other-login-sessions": {Actors: users, Instance: noAccess},
	"get-password-reset":          {Public: true},
	"complete-password-reset":     {Public: true},
	"leave-vault":                 {Actors: users, Instance: noAccess, Vault: vProxy},

	"list-vaults":  {Actors: everyone, Instance: noAccess},
	"create-vault": {Actors: users, Instance: member},

	// Instance administration.
	"get-metrics":              {Actors: users, Instance: owner},
	"get-overview":             {Actors: users, Instance: owner},
	"list-users":               {Actors: users, Instance: member},
	"update-user":              {Actors: users, Instance: owner},
	"delete-user":              {Actors: users, Instance: owner},
	"list-user-sessions":       {Actors: users, Instance: owner},
	"revoke-user-session":      {Actors: users, Instance: owner},
	"revoke-user-sessions":     {Actors: users, Instance: owner},
	"create-password-reset":    {Actors: users, Instance: owner},
	"get-instance-settings":    {Actors: users, Instance: owner},
	"update-instance-settings": {Actors: users, Instance: owner},
	"list-agents":              {Actors: users, Instance: member},
	"get-agent":                {Actors: users, Instance: member},
	"create-agent":             {Actors: users, Instance: member},
	"update-agent":             {Actors: users, Instance: owner},
	"rotate-agent":             {Actors: users, Instance: owner},
	"revoke-agent":             {Actors: users, Instance: owner},
	"delete-agent":             {Actors: users, Instance: owner},

	// Invitations. Members may invite only when the instance setting
	// invite_policy is "members" (the handler checks it, and that a member
	// invites no owner); members list, revoke and re-send the invites they
	// sent, owners every invite. An invite link, like a reset link, is a
	// credential of its own: whoever holds it may see what it offers.
	"create-invite": {Actors: users, Instance: member},
	"list-invites":  {Actors: users, Instance: member},
	"revoke-invite": {Actors: users, Instance: member},
	"resend-invite": {Actors: users, Instance: member},
	"get-invite":    {Public: true},

	// One vault: management (owners may act without joining).
	"get-vault-context":     {Actors: everyone, Instance: member, Vault: vProxy, OwnerManages: true},
	"delete-vault":          {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"rename-vault":          {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"get-vault-settings":    {Actors: users | AllowAgent, Instance: member, Vault: vMember, OwnerManages: true},
	"update-vault-settings": {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"join-vault":            {Actors: users, Instance: owner},
	"list-vault-users":      {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"set-vault-user":        {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"remove-vault-user":     {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"list-vault-agents":     {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"set-vault-agent":       {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"remove-vault-agent":    {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"list-sessions":         {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"revoke-session":        {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},

	// A session's minter lists and revokes it without any vault role (it
	// may have lost it since); a session may revoke itself. The handler
	// restricts both to the caller's own sessions.
	"list-my-sessions":  {Actors: users | AllowAgent, Instance: noAccess},
	"revoke-my-session": {Actors: everyone, Instance: noAccess},

	// Credential stores. Connecting to (or creating on) an external store
	// is further limited to instance owners by the handler: the server's
	// identity, not the caller's, reads upstream.
	"list-credential-store-kinds": {Actors: users, Instance: member},
	"get-credential-store":        {Actors: everyone, Instance: member, Vault: vProxy, OwnerManages: true},
	"set-credential-store":        {Actors: users, Instance: member, Vault: vAdmin, OwnerManages: true},
	"sync-vault":                  {Actors: users | AllowAgent, Instance: member, Vault: vMember},

	// One vault: contents (a grant is required, owners included).
	"create-session": {Actors: users | AllowAgent, Instance: member, Vault: vProxy},
	// A canary is bait minted for `agent-vault run --canary`: whoever may
	// start a session may mint one; only members list them.
	"create-canary":      {Actors: users | AllowAgent, Instance: member, Vault: vProxy},
	"list-canaries":      {Actors: users, Instance: member, Vault: vMember},
	"list-credentials":   {Actors: everyone, Instance: member, Vault: vProxy},
	"set-credentials":    {Actors: users, Instance: member, Vault: vMember},
	"delete-credentials": {Actors: users, Instance: member, Vault: vMember},
	"list-services":      {Actors: everyone, Instance: member, Vault: vProxy},
	"upsert-services":    {Actors: users, Instance: member, Vault: vMember},
	"replace-services":   {Actors: users, Instance: member, Vault: vMember},
	"update-service":     {Actors: users, Instance: member, Vault: vMember},
	"delete-service":     {Actors: users, Instance: member, Vault: vMember},
	"delete-services":    {Actors: users, Instance: member, Vault: vAdmin},
	// The service catalog is public knowledge (hosts and auth shapes of
	// common APIs); agents read it to write correct proposals.
	"list-service-catalog": {Actors: everyone, Instance: member},
	// Hosts agents reached without a service: seen by those who may
	// create services.
	"list-discovered-hosts": {Actors: users, Instance: member, Vault: vMember},

	// The agent loop: agents discover what their vault offers and propose
	// what is missing; vault admins and members review. Proposals carry no
	// authority until a human approves them, so any vault role may propose.
	"get-cli-skill":        {Public: true},
	"discover":             {Actors: everyone, Instance: member, Vault: vProxy},
	"create-proposal":      {Actors: everyone, Instance: member, Vault: vProxy},
	"list-proposals":       {Actors: everyone, Instance: member, Vault: vProxy},
	"get-proposal":         {Actors: everyone, Instance: member, Vault: vProxy},
	"admin-list-proposals": {Actors: users, Instance: member, Vault: vMember},
	"approve-proposal":     {Actors: users, Instance: member, Vault: vMember},
	"reject-proposal":      {Actors: users, Instance: member, Vault: vMember},

	// Operators: the request log and why a request would (not) be injected.
	"list-request-logs":  {Actors: users, Instance: member, Vault: vMember},
	"get-vault-activity": {Actors: users, Instance: member, Vault: vMember, OwnerManages: true},
	"explain-request":    {Actors: users | AllowAgent, Instance: member, Vault: vMember},

	// The audit trail is the instance owners' to read and check.
	"list-audit-entries": {Actors: users, Instance: owner},
	"verify-audit":       {Actors: users, Instance: owner},
}
