package console_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"keyhaven.dev/keyhaven"
	"keyhaven.dev/keyhaven/console"
	"keyhaven.dev/keyhaven/internal/apitest"
	"keyhaven.dev/keyhaven/internal/testdb"
)

// userSpy counts the store's reads of users.
type userSpy struct {
	keyhaven.Store
	emails, users atomic.Int32
}

func (s *userSpy) UserEmails(ctx context.Context, tenantID string, ids []string) (map[string]string, error) {
	s.emails.Add(1)
	return s.Store.UserEmails(ctx, tenantID, ids)
}

func (s *userSpy) User(ctx context.Context, tenantID, id string) (*keyhaven.User, error) {
	s.users.Add(1)
	return s.Store.User(ctx, tenantID, id)
}

// TestAuditShowsActorsByEmail: the audit log names each event's actor by the email of the
// user it acted for, a deleted user's too, and reads the emails of a page's actors in one
// query, not one per row.
func TestAuditShowsActorsByEmail(t *testing.T) {
	for name, open := range testdb.Engines() {
		t.Run(name, func(t *testing.T) { testAuditShowsActorsByEmail(t, apitest.New(t, open)) })
	}
}

func testAuditShowsActorsByEmail(t *testing.T, e *apitest.Env) {
	emails := []string{"ana@acme.test", "ben@acme.test", "gone@acme.test"}
	var gone string
	for _, email := range emails {
		id, token := e.CreateUser(email, keyhaven.CREATE_APPLICATION)
		createApp(t, e, token, "made by "+email)
		gone = id
	}
	if r := e.Do("DELETE", "/api/acme/users/"+gone, e.Acme.APIKey, nil); r.Status != http.StatusNoContent {
		t.Fatal(r.Status, string(r.Body))
	}

	spy := &userSpy{Store: e.Store}
	svc := keyhaven.NewService(spy, slog.New(slog.DiscardHandler))
	svc.Sealer, svc.Clock = e.Svc.Sealer, e.Clock
	srv := httptest.NewServer(console.New(svc, svc.Log, console.Options{}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/audit?action=application.create", nil)
	req.AddCookie(&http.Cookie{Name: "kh_session", Value: e.Login("acme", "admin@acme.test", e.Acme.AdminPassword)})
	spy.emails.Store(0)
	spy.users.Store(0)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(res)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /audit: %d", res.StatusCode)
	}
	actors := regexp.MustCompile(`class="actor free">([^<]*)`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, a := range actors {
		got = append(got, strings.TrimSpace(a[1]))
	}
	if len(got) != 3 {
		t.Fatalf("actors %v, want the 3 creators", got)
	}
	for _, email := range emails {
		if !strings.Contains(strings.Join(got, " "), email) {
			t.Errorf("actors %v lack %s", got, email)
		}
	}
	if n := spy.emails.Load(); n != 1 {
		t.Errorf("%d reads of the actors' emails for one page, want 1", n)
	}
	if n := spy.users.Load(); n != 0 {
		t.Errorf("%d reads of single users for one page, want none", n)
	}
}
