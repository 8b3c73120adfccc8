package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"keyhaven.dev/keyhaven"
)

// verdictKey is the label set of one verification's counter.
type verdictKey struct {
	kind string
	code keyhaven.VerdictCode
}

// Judged counts a verification's verdict by credential kind and code (a
// keyhaven.Service.Judged hook): a key's verification and a device's username and password
// check both count; other uses of credentials, on keyhaven's own API, are not verifications
// and count nowhere here.
func (m *Metrics) Judged(u *keyhaven.Use, v *keyhaven.Verdict) {
	var k string
	switch {
	case u.Device != nil:
		k = string(keyhaven.KindDevice)
	case u.Verification:
		k = kind(v)
	default:
		return
	}
	m.verdicts.get(verdictKey{k, v.Code}, func(k verdictKey) prometheus.Counter {
		return m.verifications.WithLabelValues(k.kind, string(k.code))
	}).Inc()
}

// kind returns the kind of the credential a verdict found: a bearer credential's, "device"
// for a device access (behind an access token), "unknown" when none was found.
func kind(v *keyhaven.Verdict) string {
	switch {
	case v.Credential != nil:
		switch k := v.Credential.Kind; k {
		case keyhaven.KindAPIKey, keyhaven.KindAccessKey, keyhaven.KindSession:
			return string(k)
		}
	case v.Access != nil:
		return string(keyhaven.KindDevice)
	}
	return "unknown"
}
