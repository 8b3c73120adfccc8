package api_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"testing"

	"keyhaven.dev/keyhaven/internal/fuzzenv"
)

// restSeeds are a well-formed body of each operation that takes one, for the fuzzer to
// mutate from.
var restSeeds = map[string]string{
	"login":             `{"email":"admin@acme.test","password":"correct-horse-battery"}`,
	"createUser":        `{"email":"someone@acme.test","password":"correct-horse-battery","permissions":["READ","ACCESS_MANAGEMENT"]}`,
	"updateUser":        `{"permissions":["READ"],"password":"another-horse-battery"}`,
	"createApplication": `{"name":"billing","description":"pays"}`,
	"updateApplication": `{"name":"billing-2","description":null}`,
	"createAccessKey":   `{"name":"reader","scopes":["READ"],"expiresAt":"9999-12-31T11:59:00+00:00"}`,
	"updateAccessKey":   `{"description":"reads","rateLimit":{"limit":5,"periodSeconds":60},"meta":null}`,
	"rotateAccessKey":   `{"gracePeriodSeconds":60}`,
	"createApiKey": `{"name":"SYNC","permissions":["READ"],"expiresAt":"9999-12-31T11:59:00+00:00","ipAllowlist":["10.0.0.0/8","2001:db8::1"],` +
		`"rateLimit":{"limit":10,"periodSeconds":60},"credits":{"remaining":5,"refill":{"amount":5,"interval":"DAILY"}},"meta":{"plan":"gold"}}`,
	"updateApiKey":          `{"name":"SYNC_2","active":false,"ipAllowlist":null,"credits":{"remaining":0},"meta":{"a":[1,{"b":null}]},"expiresAt":null}`,
	"rotateApiKey":          `{"gracePeriodSeconds":0}`,
	"createProductOffering": `{"id":"silver","name":"Silver","accessValidityDays":7}`,
	"createContract":        `{"id":"c-2","productOfferingId":"gold","customerName":"Acme","startDate":"0000-01-01T00:00:00+00:00","endDate":"9999-12-31T23:59:59.999+00:00","status":"ACTIVE"}`,
	"updateContract":        `{"status":"SUSPENDED","endDate":"9999-12-31T23:59:59+01:00"}`,
	"createAccess":          `{"contractId":"contract-001","username":"dev-1","password":"chosen-password-1","deviceName":"sensor"}`,
	"updateAccess":          `{"status":"SUSPENDED","password":"chosen-password-2"}`,
	"createAccessBatch":     `{"contractId":"contract-001","accesses":[{"username":"dev-2"},{"password":"chosen-password-3","deviceName":"d"}]}`,
	"verifyAccess":          `{"username":"dev-1","password":"chosen-password-1"}`,
	"verify":                `{"key":"khk_0123456789abcdefghijklmnopqrstuvwxyzAB","permissions":["READ"]}`,
	"createWebhook":         `{"url":"http://127.0.0.1:9/hooks","events":["api_key.created","access.updated"],"description":"sync","enabled":false}`,
	"updateWebhook":         `{"url":"https://[::1]:9/h?x=1","events":["user.deleted"],"description":null,"enabled":true}`,
}

// checkAnswer fails on a server error and on an answer that says it is JSON but is not.
func checkAnswer(t *testing.T, what string, status int, header http.Header, body []byte) {
	t.Helper()
	if status >= 500 || status < 100 {
		t.Fatalf("%s: status %d: %s", what, status, body)
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); len(body) > 0 && (mt == "application/json" || mt == "application/problem+json") && !json.Valid(body) {
		t.Fatalf("%s: status %d with a body that is not JSON: %q", what, status, body)
	}
}

// FuzzREST sends fuzzed requests to every operation of the OpenAPI document, in process over
// a SQLite file: a body (to the operation's own JSON decoder), a path parameter, a query
// string, each of the tenant's credentials and an Idempotency-Key. No answer may be a 5xx
// (a panic answers 500 too) or claim to be JSON without being it.
func FuzzREST(f *testing.F) {
	e := fuzzenv.New(f)
	for i, op := range e.Ops {
		f.Add(uint8(i), uint8(fuzzenv.APIKey), "", "", []byte(restSeeds[op.ID]))
	}
	f.Add(uint8(0), uint8(fuzzenv.Session|4), "x", "limit=2&cursor=abc", []byte(`{"a":`))
	f.Add(uint8(1), uint8(fuzzenv.AccessKey), "\x00", "limit=-1", []byte(`[]`))
	f.Fuzz(func(t *testing.T, op, who uint8, param, query string, body []byte) {
		o := e.Ops[int(op)%len(e.Ops)]
		r := fuzzenv.Request{Method: o.Method, Path: o.Path, Param: param, Query: query, Who: int(who & 3), Body: body}
		switch o.Method {
		case http.MethodPatch:
			r.ContentType = "application/merge-patch+json"
		case http.MethodPost, http.MethodPut:
			r.ContentType = "application/json"
		}
		if who&4 != 0 {
			r.Header = http.Header{"Idempotency-Key": {"fuzz-key"}}
		}
		status, header, answer := e.Do(t, r)
		checkAnswer(t, o.Method+" "+o.Path, status, header, answer)
	})
}

// FuzzMergePatch sends fuzzed JSON merge patches, with a fuzzed content type, to every PATCH
// operation: no 5xx, and a change that is accepted answers the changed object.
func FuzzMergePatch(f *testing.F) {
	e := fuzzenv.New(f)
	var patches []fuzzenv.Op
	for _, op := range e.Ops {
		if op.Method == http.MethodPatch {
			patches = append(patches, op)
		}
	}
	for i, op := range patches {
		f.Add(uint8(i), "application/merge-patch+json", []byte(restSeeds[op.ID]))
		f.Add(uint8(i), "application/json; charset=utf-8", []byte(`{}`))
		f.Add(uint8(i), "application/merge-patch+json", []byte(`{"name":null,"status":null,"password":null,"unknown":1}`))
		f.Add(uint8(i), "application/merge-patch+json", []byte(`{"rateLimit":null,"credits":{"remaining":-1},"meta":"x","ipAllowlist":["nope"]}`))
	}
	f.Add(uint8(0), "text/plain", []byte(`{"status":"TERMINATED"}`))
	f.Add(uint8(0), "application/merge-patch+json; charset=\"", []byte(`null`))
	f.Fuzz(func(t *testing.T, op uint8, contentType string, body []byte) {
		o := patches[int(op)%len(patches)]
		status, header, answer := e.Do(t, fuzzenv.Request{Method: o.Method, Path: o.Path, ContentType: contentType, Body: body})
		checkAnswer(t, o.Path, status, header, answer)
		if status == http.StatusOK {
			var obj struct{ ID string }
			if err := json.Unmarshal(answer, &obj); err != nil || obj.ID == "" {
				t.Fatalf("PATCH %s answered 200 without the object: %s", o.Path, answer)
			}
		}
	})
}
