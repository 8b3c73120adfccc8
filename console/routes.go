package console

import (
	"net/http"

	"keyhaven.dev/keyhaven"
)

// routes registers the console's pages. Every page but signing in goes through authed, which
// checks the session, reads a POST's form once ServeHTTP found it posted by the console's own
// pages, and hands whatever the page's handler returns to serveError.
func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /login", c.public(c.loginPage))
	m.HandleFunc("POST /login", c.public(c.login))
	m.HandleFunc("POST /logout", c.authed(c.logout))
	m.HandleFunc("GET /password", c.authed(c.passwordPage))
	m.HandleFunc("POST /password", c.authed(c.changePassword))
	m.HandleFunc("GET /{$}", c.authed(c.home))
	m.HandleFunc("GET /dashboard", c.authed(c.dashboard))
	m.HandleFunc("GET /created/{id}", c.authed(c.created))
	// Any other path is the error page's Not Found.
	m.HandleFunc("/", c.notFound)

	m.HandleFunc("GET /applications", c.authed(c.applications))
	m.HandleFunc("GET /applications/new", c.authed(c.newApplication))
	m.HandleFunc("POST /applications", c.authed(c.createApplication))
	m.HandleFunc("GET /applications/{id}", c.authed(c.application("summary")))
	m.HandleFunc("GET /applications/{id}/access-keys", c.authed(c.application("keys")))
	m.HandleFunc("GET /applications/{id}/edit", c.authed(c.editApplication))
	m.HandleFunc("POST /applications/{id}/edit", c.authed(c.updateApplication))
	m.HandleFunc("GET /applications/{id}/revoke", c.authed(c.confirmRevokeApplication))
	m.HandleFunc("POST /applications/{id}/revoke", c.authed(c.revokeApplication))
	m.HandleFunc("GET /applications/{id}/access-keys/new", c.authed(c.newAccessKey))
	m.HandleFunc("POST /applications/{id}/access-keys", c.authed(c.createAccessKey))
	m.HandleFunc("GET /applications/{id}/access-keys/{key}", c.authed(c.accessKey))
	m.HandleFunc("GET /applications/{id}/access-keys/{key}/edit", c.authed(c.editAccessKey))
	m.HandleFunc("POST /applications/{id}/access-keys/{key}/edit", c.authed(c.updateAccessKey))
	m.HandleFunc("GET /applications/{id}/access-keys/{key}/rotate", c.authed(c.rotateAccessKeyPage))
	m.HandleFunc("POST /applications/{id}/access-keys/{key}/rotate", c.authed(c.rotateAccessKey))
	m.HandleFunc("GET /applications/{id}/access-keys/{key}/revoke", c.authed(c.confirmRevokeAccessKey))
	m.HandleFunc("POST /applications/{id}/access-keys/{key}/revoke", c.authed(c.revokeAccessKey))

	m.HandleFunc("GET /api-keys", c.authed(c.apiKeys))
	// The new key's form is at a path no key's page has: a key's name has no hyphen.
	m.HandleFunc("GET /api-keys/new-key", c.authed(c.newAPIKey))
	m.HandleFunc("POST /api-keys", c.authed(c.createAPIKey))
	m.HandleFunc("GET /api-keys/{name}", c.authed(c.apiKey))
	m.HandleFunc("GET /api-keys/{name}/edit", c.authed(c.editAPIKey))
	m.HandleFunc("POST /api-keys/{name}/edit", c.authed(c.updateAPIKey))
	m.HandleFunc("GET /api-keys/{name}/rotate", c.authed(c.rotateAPIKeyPage))
	m.HandleFunc("POST /api-keys/{name}/rotate", c.authed(c.rotateAPIKey))
	m.HandleFunc("GET /api-keys/{name}/delete", c.authed(c.confirmDeleteAPIKey))
	m.HandleFunc("POST /api-keys/{name}/delete", c.authed(c.deleteAPIKey))

	m.HandleFunc("GET /users", c.authed(c.users))
	m.HandleFunc("GET /users/new", c.authed(c.newUser))
	m.HandleFunc("POST /users", c.authed(c.createUser))
	m.HandleFunc("GET /users/{id}/edit", c.authed(c.editUser))
	m.HandleFunc("POST /users/{id}/edit", c.authed(c.updateUser))
	m.HandleFunc("GET /users/{id}/delete", c.authed(c.confirmDeleteUser))
	m.HandleFunc("POST /users/{id}/delete", c.authed(c.deleteUser))

	m.HandleFunc("GET /contracts", c.authed(c.contracts))
	m.HandleFunc("GET /contracts/new", c.authed(c.newContract))
	m.HandleFunc("POST /contracts", c.authed(c.createContract))
	m.HandleFunc("GET /contracts/{id}/edit", c.authed(c.editContract))
	m.HandleFunc("POST /contracts/{id}/edit", c.authed(c.updateContract))
	m.HandleFunc("GET /offerings", c.authed(c.offerings))
	m.HandleFunc("GET /offerings/new", c.authed(c.newOffering))
	m.HandleFunc("POST /offerings", c.authed(c.createOffering))
	m.HandleFunc("GET /accesses", c.authed(c.accesses))
	m.HandleFunc("GET /accesses/{id}", c.authed(c.access))
	m.HandleFunc("GET /accesses/{id}/edit", c.authed(c.editAccess))
	m.HandleFunc("POST /accesses/{id}/edit", c.authed(c.updateAccess))
	m.HandleFunc("GET /batches", c.authed(c.batches))
	m.HandleFunc("GET /batches/new", c.authed(c.newBatch))
	m.HandleFunc("POST /batches", c.authed(c.createBatch))
	m.HandleFunc("GET /batches/{id}", c.authed(c.batch))
	m.HandleFunc("GET /batches/{id}/progress.json", c.authed(c.batchProgress))
	m.HandleFunc("GET /batches/{id}/accesses.csv", c.authed(c.batchCSV))
	m.HandleFunc("GET /audit", c.authed(c.audit))

	m.HandleFunc("GET /webhooks", c.authed(c.webhooks))
	m.HandleFunc("GET /webhooks/new", c.authed(c.newWebhook))
	m.HandleFunc("POST /webhooks", c.authed(c.createWebhook))
	m.HandleFunc("GET /webhooks/{id}", c.authed(c.webhook))
	m.HandleFunc("GET /webhooks/{id}/edit", c.authed(c.editWebhook))
	m.HandleFunc("POST /webhooks/{id}/edit", c.authed(c.updateWebhook))
	m.HandleFunc("GET /webhooks/{id}/delete", c.authed(c.confirmDeleteWebhook))
	m.HandleFunc("POST /webhooks/{id}/delete", c.authed(c.deleteWebhook))
	m.HandleFunc("POST /webhooks/{id}/test", c.authed(c.testWebhook))
	m.HandleFunc("POST /webhooks/{id}/deliveries/{delivery}/resend", c.authed(c.resendWebhookDelivery))
}

// notFound answers a path the console has no page at: 404 for everyone, with the navigation
// for those signed in. Signed out, every such path gets the same page, whatever is behind it
// (/metrics, to the clients it is not shown to, answers with this handler too).
func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	var p *keyhaven.Principal
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if signedIn, err := c.svc.Authenticate(r.Context(), keyhaven.Use{Secret: ck.Value, Kind: keyhaven.KindSession}); err == nil {
			p = signedIn
		}
	}
	c.serveError(w, r, p, &HTTPError{Code: http.StatusNotFound, Msg: "There is no such page."})
}
