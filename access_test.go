package keyhaven_test

import (
	"testing"

	"keyhaven.dev/keyhaven"
)

// TestAccessStatusTransitions: an access moves freely between ACTIVE and SUSPENDED and into
// TERMINATED, which is final: a terminated access changes neither status nor password.
func TestAccessStatusTransitions(t *testing.T) {
	t.Parallel()
	const (
		active     = keyhaven.AccessActive
		suspended  = keyhaven.AccessSuspended
		terminated = keyhaven.AccessTerminated
	)
	final := keyhaven.ECONFLICT + ":access_terminated"
	tests := []struct {
		from     keyhaven.AccessStatus
		to       keyhaven.AccessStatus // "" changes the password instead
		want     string
		password bool // the change also sets a new password
	}{
		{from: active, to: active, want: okay},
		{from: active, to: suspended, want: okay},
		{from: active, to: terminated, want: okay},
		{from: suspended, to: active, want: okay},
		{from: suspended, to: suspended, want: okay},
		{from: suspended, to: terminated, want: okay},
		{from: terminated, to: active, want: final},
		{from: terminated, to: suspended, want: final},
		{from: terminated, to: terminated, want: final},
		{from: active, password: true, want: okay},
		{from: suspended, password: true, want: okay},
		{from: terminated, password: true, want: final},
		{from: suspended, to: active, password: true, want: okay},
		{from: active, to: "DELETED", want: invalidInput},
		{from: active, to: "active", want: invalidInput},
		{from: terminated, to: "DELETED", want: invalidInput},
	}
	f := newFixture(t)
	for _, tc := range tests {
		name := string(tc.from) + "->" + string(tc.to)
		if tc.password {
			name += "+password"
		}
		t.Run(name, func(t *testing.T) {
			f.t = t
			a := f.access(tc.from)
			var in keyhaven.AccessUpdate
			if tc.to != "" {
				in.Status = &tc.to
			}
			if tc.password {
				in.Password = ptr("another-password-long-enough")
			}
			_, err := f.svc.UpdateAccess(f.ctx, f.admin, a.ID, in)
			if got := outcome(err); got != tc.want {
				t.Errorf("%s: got %s, want %s", name, got, tc.want)
			}
			changed := err == nil
			want := tc.from
			if changed && tc.to != "" {
				want = tc.to
			}
			after, err := f.svc.Access(f.ctx, f.admin, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Status != want {
				t.Errorf("%s: status after the change %s, want %s", name, after.Status, want)
			}
			if got := after.PasswordHash != a.PasswordHash; got != (changed && tc.password) {
				t.Errorf("%s: password changed: got %v, want %v", name, got, changed && tc.password)
			}
		})
	}
}

// TestAccessNeedsAccessManagement: creating, reading, listing and changing accesses, and
// listing batch tasks (newest first), needs ACCESS_MANAGEMENT; CONTRACT_MANAGEMENT is not
// enough.
func TestAccessNeedsAccessManagement(t *testing.T) {
	t.Parallel()
	actions := []struct {
		name string
		do   func(f *fixture, p *keyhaven.Principal, a *keyhaven.Access) error
	}{
		{"create", func(f *fixture, p *keyhaven.Principal, a *keyhaven.Access) error {
			_, _, err := f.svc.CreateAccess(f.ctx, p, a.ContractID, keyhaven.AccessInput{})
			return err
		}},
		{"read", func(f *fixture, p *keyhaven.Principal, a *keyhaven.Access) error {
			_, err := f.svc.Access(f.ctx, p, a.ID)
			return err
		}},
		{"list", func(f *fixture, p *keyhaven.Principal, a *keyhaven.Access) error {
			items, err := f.svc.ListAccesses(f.ctx, p, keyhaven.AccessFilter{ContractID: a.ContractID})
			return listed(items, err, a.ID, func(a *keyhaven.Access) string { return a.ID })
		}},
		{"suspend", func(f *fixture, p *keyhaven.Principal, a *keyhaven.Access) error {
			_, err := f.svc.UpdateAccess(f.ctx, p, a.ID, keyhaven.AccessUpdate{Status: ptr(keyhaven.AccessSuspended)})
			return err
		}},
		{"list batch tasks", func(f *fixture, p *keyhaven.Principal, a *keyhaven.Access) error {
			task, err := f.svc.SubmitBatch(f.ctx, f.admin, keyhaven.BatchInput{ContractID: a.ContractID, NumberOfAccesses: ptr(1)})
			if err != nil {
				return err
			}
			tasks, err := f.svc.ListBatchTasks(f.ctx, p, keyhaven.Page{Limit: 1})
			return listed(tasks, err, task.ID, func(t *keyhaven.BatchTask) string { return t.ID })
		}},
	}
	tests := []struct {
		holds []keyhaven.Permission
		want  string
	}{
		{nil, missingPermission},
		{[]keyhaven.Permission{keyhaven.CONTRACT_MANAGEMENT, keyhaven.READ, keyhaven.WRITE}, missingPermission},
		{[]keyhaven.Permission{keyhaven.ACCESS_MANAGEMENT}, okay},
	}
	f := newFixture(t)
	for _, tc := range tests {
		for _, action := range actions {
			t.Run(holding(tc.holds)+"/"+action.name, func(t *testing.T) {
				f.t = t
				a := f.access(keyhaven.AccessActive)
				if got := outcome(action.do(f, f.as(tc.holds...), a)); got != tc.want {
					t.Errorf("%s holding %v: got %s, want %s", action.name, tc.holds, got, tc.want)
				}
			})
		}
	}
}
