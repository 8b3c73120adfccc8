package console_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/console"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// brokenStore fails to list applications, with a detail no page may show.
type brokenStore struct{ keyhaven.Store }

func (brokenStore) ListApplications(context.Context, string, string, keyhaven.Page) ([]*keyhaven.Application, error) {
	return nil, keyhaven.Internal(errors.New("disk on fire at /var/lib/secret-path"))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestErrorPages: whatever a page's handler returns is written by one adapter: the service's
// errors as the error page with the status their code maps to, keyhaven's own failures as a
// 500 page that says no more than "internal error" while the log keeps the detail, an
// unknown page as 404.
func TestErrorPages(t *testing.T) {
	e := apitest.New(t, testdb.SQLite)
	var logs lockedBuffer
	svc := keyhaven.NewService(brokenStore{e.Store}, slog.New(slog.NewTextHandler(&logs, nil)))
	svc.Sealer, svc.Clock = e.Svc.Sealer, e.Clock
	srv := httptest.NewServer(console.New(svc, svc.Log, console.Options{}))
	t.Cleanup(srv.Close)
	session := e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)
	e.CreateUser("viewer@acme.test", keyhaven.READ)
	viewerSession := e.Login("acme", "viewer@acme.test", "correct-horse-battery")
	for _, s := range []struct {
		name, path, session string
		status              int
		want                string
	}{
		{"keyhaven's failure", "/applications", session, http.StatusInternalServerError, "internal error"},
		{"not found", "/applications/app_00000000000000000000000000", session, http.StatusNotFound, "application not found"},
		{"forbidden", "/users", viewerSession, http.StatusForbidden, "USER_MANAGEMENT"},
		{"no such page", "/no/such/page", session, http.StatusNotFound, "There is no such page."},
	} {
		t.Run(s.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+s.path, nil)
			req.AddCookie(&http.Cookie{Name: "kh_session", Value: s.session})
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(res)
			res.Body.Close()
			if res.StatusCode != s.status || !strings.Contains(page, s.want) || !strings.Contains(page, `<main>`) {
				t.Fatalf("GET %s: %d, want %d and the error page saying %q: %s", s.path, res.StatusCode, s.status, s.want, page)
			}
			if strings.Contains(page, "disk on fire") {
				t.Fatal("the page shows the failure's detail")
			}
		})
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the failure's detail is not logged: %s", logs.String())
	}
}
