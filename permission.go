package keyhaven

import (
	"encoding/json"
	"math/bits"
	"strings"
)

// Permission is one entry of keyhaven's permission vocabulary, spelled in upper snake case
// everywhere (REST, GraphQL, verify responses).
type Permission string

// The vocabulary. The first six allow nothing inside keyhaven; they are carried to downstream
// services through verify.
const (
	READ                   Permission = "READ"
	WRITE                  Permission = "WRITE"
	IGNORE_AVAILABILITY    Permission = "IGNORE_AVAILABILITY"
	TIME_TRAVEL            Permission = "TIME_TRAVEL"
	SELF_CONFIG            Permission = "SELF_CONFIG"
	ACCOUNT_SETUP          Permission = "ACCOUNT_SETUP"
	KEY_MANAGEMENT         Permission = "KEY_MANAGEMENT"
	USER_MANAGEMENT        Permission = "USER_MANAGEMENT"
	CONTRACT_MANAGEMENT    Permission = "CONTRACT_MANAGEMENT"
	ACCESS_MANAGEMENT      Permission = "ACCESS_MANAGEMENT"
	VIEW_APPLICATIONS      Permission = "VIEW_APPLICATIONS"
	CREATE_APPLICATION     Permission = "CREATE_APPLICATION"
	EDIT_APPLICATION       Permission = "EDIT_APPLICATION"
	REVOKE_APPLICATION     Permission = "REVOKE_APPLICATION"
	VIEW_ACCESS_KEYS_ANY   Permission = "VIEW_ACCESS_KEYS_ANY"
	VIEW_ACCESS_KEYS_OWN   Permission = "VIEW_ACCESS_KEYS_OWN"
	CREATE_ACCESS_KEYS_ANY Permission = "CREATE_ACCESS_KEYS_ANY"
	CREATE_ACCESS_KEYS_OWN Permission = "CREATE_ACCESS_KEYS_OWN"
	EDIT_ACCESS_KEYS_ANY   Permission = "EDIT_ACCESS_KEYS_ANY"
	EDIT_ACCESS_KEYS_OWN   Permission = "EDIT_ACCESS_KEYS_OWN"
	REVOKE_ACCESS_KEYS_ANY Permission = "REVOKE_ACCESS_KEYS_ANY"
	REVOKE_ACCESS_KEYS_OWN Permission = "REVOKE_ACCESS_KEYS_OWN"
	AUDIT_READ             Permission = "AUDIT_READ"
	WEBHOOK_MANAGEMENT     Permission = "WEBHOOK_MANAGEMENT"
	USAGE_READ             Permission = "USAGE_READ"
)

// Permissions lists the whole vocabulary in its canonical order.
var Permissions = []Permission{
	READ, WRITE, IGNORE_AVAILABILITY, TIME_TRAVEL, SELF_CONFIG, ACCOUNT_SETUP,
	KEY_MANAGEMENT, USER_MANAGEMENT, CONTRACT_MANAGEMENT, ACCESS_MANAGEMENT,
	VIEW_APPLICATIONS, CREATE_APPLICATION, EDIT_APPLICATION, REVOKE_APPLICATION,
	VIEW_ACCESS_KEYS_ANY, VIEW_ACCESS_KEYS_OWN, CREATE_ACCESS_KEYS_ANY, CREATE_ACCESS_KEYS_OWN,
	EDIT_ACCESS_KEYS_ANY, EDIT_ACCESS_KEYS_OWN, REVOKE_ACCESS_KEYS_ANY, REVOKE_ACCESS_KEYS_OWN,
	AUDIT_READ, WEBHOOK_MANAGEMENT, USAGE_READ,
}

// PermissionNames lists the vocabulary as strings, for schemas and enums.
func PermissionNames() []string {
	names := make([]string, len(Permissions))
	for i, p := range Permissions {
		names[i] = string(p)
	}
	return names
}

var permissionBit = func() map[Permission]PermissionSet {
	m := make(map[Permission]PermissionSet, len(Permissions))
	for i, p := range Permissions {
		m[p] = 1 << i
	}
	return m
}()

// implies lists what holding a permission also grants. CREATE/EDIT/REVOKE_APPLICATION imply
// VIEW_APPLICATIONS (contract); a permission's _ANY form implies its _OWN form, since every
// application a user created is one of "any" application.
var implies = map[Permission][]Permission{
	CREATE_APPLICATION:     {VIEW_APPLICATIONS},
	EDIT_APPLICATION:       {VIEW_APPLICATIONS},
	REVOKE_APPLICATION:     {VIEW_APPLICATIONS},
	VIEW_ACCESS_KEYS_ANY:   {VIEW_ACCESS_KEYS_OWN},
	CREATE_ACCESS_KEYS_ANY: {CREATE_ACCESS_KEYS_OWN},
	EDIT_ACCESS_KEYS_ANY:   {EDIT_ACCESS_KEYS_OWN},
	REVOKE_ACCESS_KEYS_ANY: {REVOKE_ACCESS_KEYS_OWN},
}

// PermissionSet is a set of permissions as a bit set, in the order of Permissions.
type PermissionSet uint64

// AllPermissions holds every permission.
var AllPermissions = func() PermissionSet {
	var s PermissionSet
	for _, b := range permissionBit {
		s |= b
	}
	return s
}()

// ParsePermission returns the permission named s, or false when s names none.
func ParsePermission(s string) (Permission, bool) {
	p := Permission(s)
	_, ok := permissionBit[p]
	return p, ok
}

// NewPermissionSet returns the set holding ps. Unknown names are ignored; validate with
// ParsePermissions first where input comes from outside.
func NewPermissionSet(ps ...Permission) PermissionSet {
	var s PermissionSet
	for _, p := range ps {
		s |= permissionBit[p]
	}
	return s
}

// ParsePermissions parses names into a set. It returns EINVALID naming field when a name is
// unknown.
func ParsePermissions(field string, names []string) (PermissionSet, error) {
	var s PermissionSet
	for i, n := range names {
		b, ok := permissionBit[Permission(n)]
		if !ok {
			return 0, Invalid(FieldError{Field: field + "[" + itoa(i) + "]", Message: "unknown permission " + quoteShort(n)})
		}
		s |= b
	}
	return s, nil
}

// Has reports whether s holds p itself (implications not applied).
func (s PermissionSet) Has(p Permission) bool { return s&permissionBit[p] != 0 }

// Allows reports whether s, with implications applied, grants p.
func (s PermissionSet) Allows(p Permission) bool { return s.Expand().Has(p) }

// Expand returns s with every implied permission added.
func (s PermissionSet) Expand() PermissionSet {
	out := s
	for p, imp := range implies {
		if s.Has(p) {
			out |= NewPermissionSet(imp...)
		}
	}
	return out
}

// Intersect returns the permissions granted by both s and o, each with implications applied.
// It is how a credential's effective permissions are computed from its own and its owner's.
func (s PermissionSet) Intersect(o PermissionSet) PermissionSet { return s.Expand() & o.Expand() }

// SubsetOf reports whether every permission of s is granted by o (o's implications applied).
func (s PermissionSet) SubsetOf(o PermissionSet) bool { return s&^o.Expand() == 0 }

// Missing returns the permissions of s that o does not grant.
func (s PermissionSet) Missing(o PermissionSet) PermissionSet { return s &^ o.Expand() }

// Len returns the number of permissions in s.
func (s PermissionSet) Len() int { return bits.OnesCount64(uint64(s)) }

// List returns the permissions of s in canonical order.
func (s PermissionSet) List() []Permission {
	out := make([]Permission, 0, s.Len())
	for i, p := range Permissions {
		if s&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// Strings returns the names of s in canonical order.
func (s PermissionSet) Strings() []string {
	out := make([]string, 0, s.Len())
	for _, p := range s.List() {
		out = append(out, string(p))
	}
	return out
}

// String joins the names of s with commas: the storage form.
func (s PermissionSet) String() string { return strings.Join(s.Strings(), ",") }

// ParseStoredPermissions reads the storage form written by String. Unknown names (from a
// newer version) are dropped, which can only take permissions away.
func ParseStoredPermissions(stored string) PermissionSet {
	var s PermissionSet
	for _, n := range strings.Split(stored, ",") {
		s |= permissionBit[Permission(n)]
	}
	return s
}

func (s PermissionSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.Strings()) }

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
