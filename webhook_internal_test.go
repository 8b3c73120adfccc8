package keyhaven

import "testing"

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.example.com/in", "https://hooks.example.com/in"},
		{"https://hooks.example.com:8443/a/b?token=s3cr3t&v=2", "https://hooks.example.com:8443/a/b?token=xxxxx&v=xxxxx"},
		{"https://hooks.example.com/?s3cr3t", "https://hooks.example.com/?xxxxx"},
		{"https://me:s3cr3t@hooks.example.com/", "https://xxxxx@hooks.example.com/"},
		{"https://s3cr3t@hooks.example.com/", "https://xxxxx@hooks.example.com/"},
		{"https://hooks.example.com/#access_token=s3cr3t", "https://hooks.example.com/#xxxxx"},
		{"https:me:s3cr3t@hooks.example.com", "https:xxxxx"},
		{"http://[::1:s3cr3t", "xxxxx"},
		{"hooks", "hooks"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
