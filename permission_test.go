package keyhaven

import (
	"encoding/json"
	"testing"
)

func TestPermissionSet(t *testing.T) {
	set := func(ps ...Permission) PermissionSet { return NewPermissionSet(ps...) }
	tests := []struct {
		name string
		got  PermissionSet
		want PermissionSet
	}{
		{"create application implies view", set(CREATE_APPLICATION).Expand(), set(CREATE_APPLICATION, VIEW_APPLICATIONS)},
		{"revoke application implies view", set(REVOKE_APPLICATION).Expand(), set(REVOKE_APPLICATION, VIEW_APPLICATIONS)},
		{"any implies own", set(EDIT_ACCESS_KEYS_ANY).Expand(), set(EDIT_ACCESS_KEYS_ANY, EDIT_ACCESS_KEYS_OWN)},
		{"own implies nothing more", set(VIEW_ACCESS_KEYS_OWN).Expand(), set(VIEW_ACCESS_KEYS_OWN)},
		{"intersection applies implications on both sides",
			set(VIEW_APPLICATIONS, READ).Intersect(set(CREATE_APPLICATION)), set(VIEW_APPLICATIONS)},
		{"intersection with nothing", set(READ, WRITE).Intersect(0), 0},
		{"missing", set(READ, KEY_MANAGEMENT).Missing(set(READ)), set(KEY_MANAGEMENT)},
		{"implied permissions are not missing", set(VIEW_APPLICATIONS).Missing(set(EDIT_APPLICATION)), 0},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got.Strings(), tc.want.Strings())
		}
	}
	if !set(CREATE_APPLICATION).Allows(VIEW_APPLICATIONS) || set(VIEW_APPLICATIONS).Allows(CREATE_APPLICATION) {
		t.Error("Allows does not follow the implications")
	}
	if AllPermissions.Len() != len(Permissions) || len(Permissions) != 25 {
		t.Errorf("vocabulary has %d permissions, AllPermissions %d", len(Permissions), AllPermissions.Len())
	}
	stored := set(AUDIT_READ, READ).String()
	if stored != "READ,AUDIT_READ" || ParseStoredPermissions(stored) != set(READ, AUDIT_READ) {
		t.Errorf("storage form %q does not round-trip", stored)
	}
	if ParseStoredPermissions("") != 0 || ParseStoredPermissions("READ,GONE") != set(READ) {
		t.Error("ParseStoredPermissions keeps unknown names")
	}
	b, _ := json.Marshal(set(WRITE, READ))
	if string(b) != `["READ","WRITE"]` {
		t.Errorf("JSON %s", b)
	}
	if _, err := ParsePermissions("permissions", []string{"READ", "read"}); ErrorCode(err) != EINVALID ||
		ErrorFields(err)[0].Field != "permissions[1]" {
		t.Errorf("ParsePermissions of a lower-case name: %v", err)
	}
}

func TestCheckGrant(t *testing.T) {
	p := &Principal{Permissions: NewPermissionSet(USER_MANAGEMENT, READ, CREATE_APPLICATION).Expand()}
	if err := p.CheckGrant(NewPermissionSet(READ, VIEW_APPLICATIONS)); err != nil {
		t.Errorf("granting held and implied permissions: %v", err)
	}
	err := p.CheckGrant(NewPermissionSet(READ, KEY_MANAGEMENT))
	if ErrorCode(err) != EFORBIDDEN || ErrorReason(err) != "permission_escalation" {
		t.Errorf("granting KEY_MANAGEMENT: %v, want permission_escalation", err)
	}
}

// TestImplications is the whole table of what holding one permission grants: each of
// CREATE_, EDIT_ and REVOKE_APPLICATION grants VIEW_APPLICATIONS too, each _ANY access key
// permission its _OWN form, and nothing else grants more than itself.
func TestImplications(t *testing.T) {
	grants := map[Permission][]Permission{
		READ:                   {READ},
		WRITE:                  {WRITE},
		IGNORE_AVAILABILITY:    {IGNORE_AVAILABILITY},
		TIME_TRAVEL:            {TIME_TRAVEL},
		SELF_CONFIG:            {SELF_CONFIG},
		ACCOUNT_SETUP:          {ACCOUNT_SETUP},
		KEY_MANAGEMENT:         {KEY_MANAGEMENT},
		USER_MANAGEMENT:        {USER_MANAGEMENT},
		CONTRACT_MANAGEMENT:    {CONTRACT_MANAGEMENT},
		ACCESS_MANAGEMENT:      {ACCESS_MANAGEMENT},
		VIEW_APPLICATIONS:      {VIEW_APPLICATIONS},
		CREATE_APPLICATION:     {CREATE_APPLICATION, VIEW_APPLICATIONS},
		EDIT_APPLICATION:       {EDIT_APPLICATION, VIEW_APPLICATIONS},
		REVOKE_APPLICATION:     {REVOKE_APPLICATION, VIEW_APPLICATIONS},
		VIEW_ACCESS_KEYS_ANY:   {VIEW_ACCESS_KEYS_ANY, VIEW_ACCESS_KEYS_OWN},
		VIEW_ACCESS_KEYS_OWN:   {VIEW_ACCESS_KEYS_OWN},
		CREATE_ACCESS_KEYS_ANY: {CREATE_ACCESS_KEYS_ANY, CREATE_ACCESS_KEYS_OWN},
		CREATE_ACCESS_KEYS_OWN: {CREATE_ACCESS_KEYS_OWN},
		EDIT_ACCESS_KEYS_ANY:   {EDIT_ACCESS_KEYS_ANY, EDIT_ACCESS_KEYS_OWN},
		EDIT_ACCESS_KEYS_OWN:   {EDIT_ACCESS_KEYS_OWN},
		REVOKE_ACCESS_KEYS_ANY: {REVOKE_ACCESS_KEYS_ANY, REVOKE_ACCESS_KEYS_OWN},
		REVOKE_ACCESS_KEYS_OWN: {REVOKE_ACCESS_KEYS_OWN},
		AUDIT_READ:             {AUDIT_READ},
		WEBHOOK_MANAGEMENT:     {WEBHOOK_MANAGEMENT},
		USAGE_READ:             {USAGE_READ},
	}
	for _, p := range Permissions {
		want, ok := grants[p]
		if !ok {
			t.Errorf("%s: not in the table; say what it grants", p)
			continue
		}
		if got := NewPermissionSet(p).Expand(); got != NewPermissionSet(want...) {
			t.Errorf("%s grants %v, want %v", p, got.Strings(), NewPermissionSet(want...).Strings())
		}
	}
}
