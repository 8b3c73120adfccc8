package keyhaven_test

import (
	"testing"
	"time"

	"keyhaven.dev/keyhaven"
)

// TestContractStatusTransitions: a contract moves freely between ACTIVE and SUSPENDED and into
// TERMINATED, which is final: a terminated contract takes no other status (setting TERMINATED
// again changes nothing and is allowed).
func TestContractStatusTransitions(t *testing.T) {
	t.Parallel()
	const (
		active     = keyhaven.ContractActive
		suspended  = keyhaven.ContractSuspended
		terminated = keyhaven.ContractTerminated
	)
	final := keyhaven.ECONFLICT + ":contract_terminated"
	tests := []struct {
		from, to keyhaven.ContractStatus
		want     string
	}{
		{active, active, okay},
		{active, suspended, okay},
		{active, terminated, okay},
		{suspended, active, okay},
		{suspended, suspended, okay},
		{suspended, terminated, okay},
		{terminated, active, final},
		{terminated, suspended, final},
		{terminated, terminated, okay},
		{active, "ENDED", invalidInput},
		{active, "active", invalidInput},
		{terminated, "", invalidInput},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(string(tc.from)+"->"+string(tc.to), func(t *testing.T) {
			f.t = t
			c := f.contract(tc.from, -time.Hour, time.Hour)
			_, err := f.svc.UpdateContract(f.ctx, f.admin, c.ID, keyhaven.ContractUpdate{Status: &tc.to})
			if got := outcome(err); got != tc.want {
				t.Errorf("%s -> %s: got %s, want %s", tc.from, tc.to, got, tc.want)
			}
			want := tc.from
			if err == nil {
				want = tc.to
			}
			if after, err := f.svc.Contract(f.ctx, f.admin, c.ID); err != nil || after.Status != want {
				t.Errorf("%s -> %s: status after the change %v (%v), want %s", tc.from, tc.to, after, err, want)
			}
		})
	}
}

// TestContractAcceptsAccesses: only an ACTIVE contract whose end has not come accepts new
// accesses; one that has not started yet does.
func TestContractAcceptsAccesses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     keyhaven.ContractStatus
		start, end time.Duration // from now
		want       string
	}{
		{"active", keyhaven.ContractActive, -time.Hour, time.Hour, okay},
		{"active, not started yet", keyhaven.ContractActive, time.Hour, 2 * time.Hour, okay},
		{"active, ending now", keyhaven.ContractActive, -time.Hour, 0, keyhaven.ECONFLICT + ":contract_ended"},
		{"active, ended", keyhaven.ContractActive, -2 * time.Hour, -time.Hour, keyhaven.ECONFLICT + ":contract_ended"},
		{"suspended", keyhaven.ContractSuspended, -time.Hour, time.Hour, keyhaven.ECONFLICT + ":contract_inactive"},
		{"terminated", keyhaven.ContractTerminated, -time.Hour, time.Hour, keyhaven.ECONFLICT + ":contract_inactive"},
		{"suspended and ended", keyhaven.ContractSuspended, -2 * time.Hour, -time.Hour, keyhaven.ECONFLICT + ":contract_inactive"},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			c := f.contract(tc.status, tc.start, tc.end)
			_, _, err := f.svc.CreateAccess(f.ctx, f.admin, c.ID, keyhaven.AccessInput{})
			if got := outcome(err); got != tc.want {
				t.Errorf("create an access under a contract %s: got %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

// TestContractPermissions: offerings and contracts are created and changed with
// CONTRACT_MANAGEMENT and read with it or ACCESS_MANAGEMENT.
func TestContractPermissions(t *testing.T) {
	t.Parallel()
	actions := []struct {
		name  string
		reads bool
		do    func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error
	}{
		{"create an offering", false, func(f *fixture, p *keyhaven.Principal, _ *keyhaven.Contract) error {
			_, err := f.svc.CreateProductOffering(f.ctx, p, keyhaven.ProductOfferingInput{Name: "Gold"})
			return err
		}},
		{"read an offering", true, func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error {
			_, err := f.svc.ProductOffering(f.ctx, p, c.ProductOfferingID)
			return err
		}},
		{"list offerings", true, func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error {
			items, err := f.svc.ListProductOfferings(f.ctx, p, keyhaven.Page{Limit: 1000})
			return listed(items, err, c.ProductOfferingID, func(o *keyhaven.ProductOffering) string { return o.ID })
		}},
		{"create a contract", false, func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error {
			_, err := f.svc.CreateContract(f.ctx, p, keyhaven.ContractInput{ID: f.name("created-"), ProductOfferingID: c.ProductOfferingID,
				StartDate: c.StartDate, EndDate: c.EndDate})
			return err
		}},
		{"read a contract", true, func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error {
			_, err := f.svc.Contract(f.ctx, p, c.ID)
			return err
		}},
		{"list contracts", true, func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error {
			items, err := f.svc.ListContracts(f.ctx, p, keyhaven.ContractFilter{Page: keyhaven.Page{Limit: 1000}})
			return listed(items, err, c.ID, func(c *keyhaven.Contract) string { return c.ID })
		}},
		{"suspend a contract", false, func(f *fixture, p *keyhaven.Principal, c *keyhaven.Contract) error {
			_, err := f.svc.UpdateContract(f.ctx, p, c.ID, keyhaven.ContractUpdate{Status: ptr(keyhaven.ContractSuspended)})
			return err
		}},
	}
	tests := []struct {
		holds        []keyhaven.Permission
		change, read string
	}{
		{nil, missingPermission, missingPermission},
		{[]keyhaven.Permission{keyhaven.READ, keyhaven.WRITE, keyhaven.KEY_MANAGEMENT}, missingPermission, missingPermission},
		{[]keyhaven.Permission{keyhaven.ACCESS_MANAGEMENT}, missingPermission, okay},
		{[]keyhaven.Permission{keyhaven.CONTRACT_MANAGEMENT}, okay, okay},
	}
	f := newFixture(t)
	for _, tc := range tests {
		for _, action := range actions {
			t.Run(holding(tc.holds)+"/"+action.name, func(t *testing.T) {
				f.t = t
				c := f.contract(keyhaven.ContractActive, -time.Hour, time.Hour)
				want := tc.change
				if action.reads {
					want = tc.read
				}
				if got := outcome(action.do(f, f.as(tc.holds...), c)); got != want {
					t.Errorf("%s holding %v: got %s, want %s", action.name, tc.holds, got, want)
				}
			})
		}
	}
}
