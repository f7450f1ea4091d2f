package domain

// InstanceRole is a user's role on the whole instance.
type InstanceRole string

const (
	InstanceOwner    InstanceRole = "owner"
	InstanceMember   InstanceRole = "member"
	InstanceNoAccess InstanceRole = "no-access"
)

// Rank orders instance roles: owner > member > no-access.
func (r InstanceRole) Rank() int {
	switch r {
	case InstanceOwner:
		return 3
	case InstanceMember:
		return 2
	case InstanceNoAccess:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the defined instance roles.
func (r InstanceRole) Valid() bool { return r.Rank() > 0 }

// VaultRole is an actor's role in one vault.
type VaultRole string

const (
	VaultAdmin  VaultRole = "admin"
	VaultMember VaultRole = "member"
	VaultProxy  VaultRole = "proxy"
)

// Rank orders vault roles: admin > member > proxy; no role ranks 0.
func (r VaultRole) Rank() int {
	switch r {
	case VaultAdmin:
		return 3
	case VaultMember:
		return 2
	case VaultProxy:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the defined vault roles.
func (r VaultRole) Valid() bool { return r.Rank() > 0 }

// AtLeast reports whether r grants at least what min grants.
func (r VaultRole) AtLeast(min VaultRole) bool { return r.Rank() >= min.Rank() && r.Rank() > 0 }
