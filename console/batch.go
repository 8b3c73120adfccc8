package console

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keyhaven.dev/keyhaven"
)

func (c *Console) batches(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	tasks, err := listed(c, r, p, c.svc.ListBatchTasks, func(t *keyhaven.BatchTask) string { return t.ID })
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "batches", "Batch tasks", "accesses", tasks)
}

// batchForm is the form of a new batch: the contract is chosen among the active ones.
func (c *Console) batchForm(r *http.Request, p *keyhaven.Principal) (formData, error) {
	contracts, more, err := c.contractChoices(r, p, keyhaven.ContractActive)
	if err != nil {
		return formData{}, err
	}
	return formData{Action: "/batches", Submit: "Create accesses", Cancel: "/batches", Fields: []field{
		pick(field{Name: "contractId", Label: "Contract (active ones)", Value: r.FormValue("contractId"), Required: true}, contracts, more),
		{Name: "numberOfAccesses", Label: "Number of accesses (1 to 100,000)", Type: "number", Value: r.FormValue("numberOfAccesses"), Required: true},
	}}, nil
}

func (c *Console) newBatch(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	f, err := c.batchForm(r, p)
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "form", "New batch of device accesses", "accesses", f)
}

// createBatch submits a batch and redirects to its page (post-redirect-get): reloading that
// page follows the task and submits nothing again. The created credentials are downloaded
// from there during the retention window.
func (c *Console) createBatch(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("numberOfAccesses")))
	if err != nil {
		n = 0 // the service says what the field takes
	}
	t, err := c.svc.SubmitBatch(ctx(r), p, keyhaven.BatchInput{ContractID: r.PostForm.Get("contractId"), NumberOfAccesses: &n})
	if err != nil {
		f, ferr := c.batchForm(r, p)
		if ferr != nil {
			return ferr
		}
		return refused(err, "form", "New batch of device accesses", "accesses", f)
	}
	http.Redirect(w, r, "/batches/"+t.ID, http.StatusSeeOther)
	return nil
}

func (c *Console) batch(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	t, err := c.svc.BatchTaskProgress(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.render(w, r, p, http.StatusOK, "batch", "Batch "+t.ID, "accesses", t)
}

func (c *Console) batchProgress(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	t, err := c.svc.BatchTaskProgress(ctx(r), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"id": t.ID, "state": t.State, "requested": t.Requested,
		"processed": t.Processed, "created": t.Created, "failed": t.Failed})
	return nil
}

// batchCSV streams a batch's accesses page by page: however large the batch, it holds one
// page at a time. Once rows are sent an error can no longer change the status, so a failure
// midway aborts the response and the client sees the download cut short rather than
// complete.
func (c *Console) batchCSV(w http.ResponseWriter, r *http.Request, p *keyhaven.Principal) error {
	id := r.PathValue("id")
	page := keyhaven.Page{Limit: csvPage}
	res, err := c.svc.BatchAccesses(ctx(r), p, id, page)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+res.Task.ID+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "username", "password", "deviceName", "contractId", "validFrom", "validUntil"})
	for {
		for i, a := range res.Accesses {
			cw.Write(csvRow(a.ID, a.Username, res.Passwords[i], a.DeviceName, a.ContractID,
				a.ValidFrom.Format(time.RFC3339), a.ValidUntil.Format(time.RFC3339)))
		}
		cw.Flush()
		if cw.Error() != nil {
			return nil // the client went away
		}
		rc.Flush()
		if len(res.Accesses) < page.Limit {
			return nil
		}
		page.After = keyhaven.BatchCursor(res.Accesses[len(res.Accesses)-1])
		if res, err = c.svc.BatchAccesses(ctx(r), p, id, page); err != nil {
			c.log.ErrorContext(r.Context(), "batch CSV", "task", id, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// csvRow returns cells safe to open in a spreadsheet: a cell that a spreadsheet would take
// for a formula (it starts with = + - @, a tab or a carriage return) gets a leading ', which
// makes it text (OWASP's advice against CSV injection). Any cell may be chosen by a caller
// (device names, passwords), and the person opening the file may not be that caller.
func csvRow(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}

// csvPage is how many accesses the CSV download reads and writes at a time.
const csvPage = 1000
