package keyhaven_test

import (
	"net/netip"
	"testing"

	"keyhaven.dev/keyhaven"
)

func TestParseDestinations(t *testing.T) {
	d, err := keyhaven.ParseDestinations(" 10.0.0.0/8, 2001:db8::/32 ,192.0.2.7, hooks.example.com,*.partner.test, ::ffff:198.51.100.0/120")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"hooks.example.com", true}, {"HOOKS.example.com.", true}, {"other.example.com", false},
		{"a.partner.test", true}, {"a.b.partner.test", true}, {"partner.test", false}, {"evilpartner.test", false},
	} {
		if got := d.AllowsHost(tc.host); got != tc.want {
			t.Errorf("AllowsHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"11.0.0.1", false}, {"192.0.2.7", true}, {"192.0.2.8", false}, {"2001:db8::1", true},
		{"2001:db9::1", false}, {"::ffff:10.0.0.1", true}, {"198.51.100.9", true}, {"127.0.0.1", false}, {"::1", false},
	} {
		if got := d.AllowsAddr(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("AllowsAddr(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if d, err := keyhaven.ParseDestinations(" , "); d != nil || err != nil {
		t.Errorf("an empty list = %v, %v; want none, meaning anywhere", d, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "not a host", "-bad.example.com", "*.", "exa_mple.com"} {
		if _, err := keyhaven.ParseDestinations(bad); err == nil {
			t.Errorf("ParseDestinations(%q) accepted it", bad)
		}
	}
}
