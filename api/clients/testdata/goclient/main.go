// Command goclient drives keyhaven's REST API through a client that oapi-codegen generated,
// with its default configuration, from the served OpenAPI document into the package
// khclient beside it: the full flow of a device-access integration, from a product offering
// to a verified access key. It exits non-zero at the first step the API answers otherwise
// than the document promises.
//
//	goclient -url http://127.0.0.1:8080 -tenant acme -key khk_...
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"keyhaven.dev/clientcheck/khclient"
)

func main() {
	base := flag.String("url", "", "keyhaven's base URL")
	tenant := flag.String("tenant", "", "the tenant")
	key := flag.String("key", "", "an API key of the tenant with every permission")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, *base, *tenant, *key); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
	fmt.Println("goclient: the full flow passed")
}

// check fails unless the response came back with want and its decoded body.
func check[T any](step string, err error, res *http.Response, body []byte, want int, decoded *T) (*T, error) {
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", step, err)
	case res.StatusCode != want:
		return nil, fmt.Errorf("%s: status %d, want %d: %s", step, res.StatusCode, want, body)
	case decoded == nil:
		return nil, fmt.Errorf("%s: %d but no body decoded from %s", step, res.StatusCode, body)
	}
	return decoded, nil
}

func run(ctx context.Context, base, tenant, key string) error {
	c, err := khclient.NewClientWithResponses(base, khclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		return err
	}
	ptr := func(s string) *string { return &s }

	// A product offering and an active contract on it.
	off, err := c.CreateProductOfferingWithResponse(ctx, tenant, nil, khclient.CreateOfferingInput{Id: ptr("go-offering"), Name: "Go offering"})
	if off != nil {
		_, err = check("create offering", err, off.HTTPResponse, off.Body, http.StatusCreated, off.JSON201)
	}
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	con, err := c.CreateContractWithResponse(ctx, tenant, nil, khclient.CreateContractInput{
		Id: "go-contract", ProductOfferingId: "go-offering", StartDate: now.Add(-time.Hour), EndDate: now.Add(24 * time.Hour)})
	if con != nil {
		_, err = check("create contract", err, con.HTTPResponse, con.Body, http.StatusCreated, con.JSON201)
	}
	if err != nil {
		return err
	}

	// One access: created with its password, read without it, suspended by a merge patch.
	cr, err := c.CreateAccessWithResponse(ctx, tenant, &khclient.CreateAccessParams{IdempotencyKey: ptr("go-access-1")},
		khclient.CreateAccessInput{ContractId: "go-contract", DeviceName: ptr("go-device")})
	var created *khclient.Access
	if cr != nil {
		created, err = check("create access", err, cr.HTTPResponse, cr.Body, http.StatusCreated, cr.JSON201)
	}
	if err != nil {
		return err
	}
	if created.Password == nil || *created.Password == "" {
		return fmt.Errorf("create access: no password in %s", cr.Body)
	}
	got, err := c.GetAccessWithResponse(ctx, tenant, created.Id)
	var read *khclient.Access
	if got != nil {
		read, err = check("get access", err, got.HTTPResponse, got.Body, http.StatusOK, got.JSON200)
	}
	if err != nil {
		return err
	}
	if read.Password != nil || read.Username != created.Username {
		return fmt.Errorf("get access: %s, want %s without its password", got.Body, created.Username)
	}
	suspended := khclient.UpdateAccessInputStatus("SUSPENDED")
	up, err := c.UpdateAccessWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, tenant, created.Id, khclient.UpdateAccessInput{Status: &suspended})
	var patched *khclient.Access
	if up != nil {
		patched, err = check("patch access", err, up.HTTPResponse, up.Body, http.StatusOK, up.JSON200)
	}
	if err != nil {
		return err
	}
	if patched.Status != "SUSPENDED" {
		return fmt.Errorf("patch access: status %s, want SUSPENDED", patched.Status)
	}
	va, err := c.VerifyAccessWithResponse(ctx, tenant, khclient.VerifyAccessInput{Username: created.Username, Password: *created.Password})
	var device *khclient.AccessVerification
	if va != nil {
		device, err = check("verify access", err, va.HTTPResponse, va.Body, http.StatusOK, va.JSON200)
	}
	if err != nil {
		return err
	}
	if device.Valid || device.Code != "SUSPENDED" {
		return fmt.Errorf("verify access: %s, want SUSPENDED", va.Body)
	}

	// A batch of three, polled until DONE, its accesses read with their passwords.
	three := int64(3)
	bt, err := c.CreateAccessBatchWithResponse(ctx, tenant, nil, khclient.CreateAccessBatchInput{ContractId: "go-contract", NumberOfAccesses: &three})
	var ref *khclient.BatchTaskRef
	if bt != nil {
		ref, err = check("create batch", err, bt.HTTPResponse, bt.Body, http.StatusAccepted, bt.JSON202)
	}
	if err != nil {
		return err
	}
	var task *khclient.BatchTask
	for {
		res, err := c.GetAccessBatchWithResponse(ctx, tenant, ref.Id, nil)
		if res != nil {
			task, err = check("get batch", err, res.HTTPResponse, res.Body, http.StatusOK, res.JSON200)
		}
		if err != nil {
			return err
		}
		if task.State == "DONE" || task.State == "FAILED" || task.State == "REJECTED" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("batch %s still %s: %w", ref.Id, task.State, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if task.State != "DONE" || len(task.Accesses) != 3 || len(task.Errors) != 0 {
		return fmt.Errorf("batch %s: %s with %d accesses and errors %v, want DONE with 3", ref.Id, task.State, len(task.Accesses), task.Errors)
	}
	for _, a := range task.Accesses {
		if a.Password == nil || *a.Password == "" {
			return fmt.Errorf("batch %s: access %s has no password", ref.Id, a.Id)
		}
	}

	// An application, an access key in it, and the key verified.
	ap, err := c.CreateApplicationWithResponse(ctx, tenant, nil, khclient.CreateApplicationInput{Name: "go-app"})
	var app *khclient.Application
	if ap != nil {
		app, err = check("create application", err, ap.HTTPResponse, ap.Body, http.StatusCreated, ap.JSON201)
	}
	if err != nil {
		return err
	}
	kr, err := c.CreateAccessKeyWithResponse(ctx, tenant, app.Id, nil, khclient.CreateAccessKeyInput{
		Name: "go-key", Scopes: []khclient.CreateAccessKeyInputScopes{"ACCESS_MANAGEMENT"}})
	var ak *khclient.AccessKey
	if kr != nil {
		ak, err = check("create access key", err, kr.HTTPResponse, kr.Body, http.StatusCreated, kr.JSON201)
	}
	if err != nil {
		return err
	}
	if ak.Key == nil || *ak.Key == "" {
		return fmt.Errorf("create access key: no key in %s", kr.Body)
	}
	perms := []khclient.VerifyInputPermissions{"ACCESS_MANAGEMENT"}
	vr, err := c.VerifyWithResponse(ctx, khclient.VerifyInput{Key: *ak.Key, Permissions: &perms})
	var verdict *khclient.Verdict
	if vr != nil {
		verdict, err = check("verify", err, vr.HTTPResponse, vr.Body, http.StatusOK, vr.JSON200)
	}
	if err != nil {
		return err
	}
	if !verdict.Valid || verdict.Code != "VALID" || verdict.Id == nil || *verdict.Id != ak.Id {
		return fmt.Errorf("verify: %s, want VALID for %s", vr.Body, ak.Id)
	}
	return nil
}
