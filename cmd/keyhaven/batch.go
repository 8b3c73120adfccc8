package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newBatchCmd(p *program) *cobra.Command {
	cmd := group(p, "batch", "Create device accesses in batches and follow them",
		newBatchCreateCmd(p), newBatchGetCmd(p),
		listCmd(p, "List the tenant's batches, newest first", batchColumns, (*client.Client).Batches))
	cmd.Aliases = []string{"batches"}
	return cmd
}

// batchPoll is how often batch create --wait asks how a batch stands.
const batchPoll = 500 * time.Millisecond

var batchColumns = []column{{"ID", "id"}, {"STATE", "state"}, {"REQUESTED", "requested"}, {"PROCESSED", "processed"},
	{"CREATED", "created"}, {"FAILED", "failed"}, {"CONTRACT", "contractId"}, {"SUBMITTED", "createdAt"}}

var batchAccessColumns = []column{{"USERNAME", "username"}, {"PASSWORD", "password"}, {"DEVICE", "deviceName"},
	{"ID", "id"}, {"VALID UNTIL", "validFor.endDateTime"}}

var batchErrorColumns = []column{{"INDEX", "index"}, {"CODE", "code"}, {"MESSAGE", "message"}}

func newBatchCreateCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create --contract ID (--count N | --items FILE) [--wait]", Args: noArgs,
		Short: "Create device accesses in a batch, and with --wait follow it to its end",
		Long: "Submit a batch of device accesses: --count N generates N of them; --items FILE creates the accesses a JSON\n" +
			"array in FILE (- for standard input) describes, each {\"username\"?, \"password\"?, \"deviceName\"?}. With --wait it\n" +
			"shows the batch's progress (a bar on a terminal, lines otherwise, on stderr) until it ends, then prints it\n" +
			"with every created access and its password, as batch get does.",
		Example: "  keyhaven batch create --contract contract-001 --count 1000 --wait\n" +
			"  keyhaven batch create --contract contract-001 --items devices.json --wait --output json > created.json",
	}
	r := addRemote(p, cmd)
	fs := cmd.Flags()
	contract := fs.String("contract", "", "the contract the accesses are under (required)")
	count := fs.Int("count", 0, "how many accesses to generate, 1 to 100000")
	items := fs.String("items", "", "a file holding a JSON array of the accesses to create (- for standard input)")
	wait := fs.Bool("wait", false, "follow the batch until it ends, then print it with its accesses")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *contract == "" {
			return errors.New("give the contract with --contract ID (keyhaven contract list shows them)")
		}
		in := client.BatchInput{ContractID: *contract}
		switch {
		case fs.Changed("count") == (*items != ""):
			return errors.New("give exactly one of --count and --items")
		case fs.Changed("count"):
			in.NumberOfAccesses = count
		default:
			list, err := readItems(p.stdin, *items)
			if err != nil {
				return err
			}
			in.Accesses = list
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		ref, raw, err := c.CreateBatch(cmd.Context(), in)
		if err != nil {
			return err
		}
		if !*wait {
			if r.json() {
				return writeJSON(p.stdout, raw)
			}
			fmt.Fprintf(p.stdout, "Submitted batch %s (%s). Follow it with: keyhaven batch get %s\n", ref.ID, ref.State, ref.ID)
			return nil
		}
		if err := waitBatch(cmd.Context(), c, ref.ID, p.stderr); err != nil {
			return err
		}
		return printBatch(cmd.Context(), r, c, ref.ID, 0)
	}
	return cmd
}

// readItems reads a batch's accesses from a JSON array in the file at path, or on in for "-".
func readItems(in io.Reader, path string) ([]client.AccessInput, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(in)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--items: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var items []client.AccessInput
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("--items %s: not a JSON array of {\"username\", \"password\", \"deviceName\"} objects: %w", path, err)
	}
	for i, it := range items {
		if it.ContractID != "" {
			return nil, fmt.Errorf("--items %s: item %d names a contract: give it with --contract", path, i)
		}
	}
	return items, nil
}

// waitBatch follows a batch until it ends, showing its progress on w: a bar redrawn in place
// on a terminal, a line per change otherwise.
func waitBatch(ctx context.Context, c *client.Client, id string, w io.Writer) error {
	bar := isTerminal(w)
	tick := time.NewTicker(batchPoll)
	defer tick.Stop()
	last := ""
	for {
		t, _, err := c.Batch(ctx, id, "", 1)
		if err != nil {
			return err
		}
		if bar {
			fmt.Fprintf(w, "\r%s", progressBar(t))
		} else if line := fmt.Sprintf("batch %s: %s, %d of %d processed", t.ID, t.State, t.Processed, t.Requested); line != last {
			fmt.Fprintln(w, line)
			last = line
		}
		if t.Final() {
			if bar {
				fmt.Fprintln(w)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if bar {
				fmt.Fprintln(w)
			}
			return fmt.Errorf("stopped waiting; the batch goes on: keyhaven batch get %s", id)
		case <-tick.C:
		}
	}
}

// progressBar draws a batch's progress on one line.
func progressBar(t *client.BatchTask) string {
	const width = 30
	done := 0
	if t.Requested > 0 {
		done = t.Processed * width / t.Requested
	}
	pct := 0
	if t.Requested > 0 {
		pct = t.Processed * 100 / t.Requested
	}
	return fmt.Sprintf("%s [%s%s] %d/%d %3d%% %-12s", t.ID, strings.Repeat("#", done), strings.Repeat(".", width-done),
		t.Processed, t.Requested, pct, t.State)
}

func newBatchGetCmd(p *program) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get ID [--limit N]",
		Short: "Show a batch with its errors and, once DONE, its accesses with their passwords (until purged)",
	}
	r := addRemote(p, cmd)
	limit := intFlag(cmd.Flags(), "limit", 0, 0, 1<<30, "most accesses to print; 0: all, every page followed")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := needOne(cmd, args, "ID"); err != nil {
			return err
		}
		c, err := r.client()
		if err != nil {
			return err
		}
		return printBatch(cmd.Context(), r, c, args[0], *limit)
	}
	return cmd
}

// printBatch prints a batch with all its accesses (or max of them): in JSON the task as the
// API answers it, its pages of accesses joined; in text its fields, then its accesses and
// errors as tables. A batch that did not end DONE is an error once printed.
func printBatch(ctx context.Context, r *remote, c *client.Client, id string, max int) error {
	var head json.RawMessage
	var task *client.BatchTask
	all, err := client.All(max, func(cursor string, limit int) (*client.Page[client.Access], error) {
		t, raw, err := c.Batch(ctx, id, cursor, limit)
		if err != nil {
			return nil, err
		}
		var page struct {
			Accesses []json.RawMessage `json:"accesses"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, err
		}
		if head == nil {
			head, task = raw, t
		}
		return &client.Page[client.Access]{Items: t.Accesses, Raw: page.Accesses, NextCursor: t.NextCursor}, nil
	})
	if err != nil {
		return err
	}
	if r.json() {
		joined, err := joinPages(head, all.Raw, all.NextCursor)
		if err != nil {
			return err
		}
		if err := writeJSON(r.p.stdout, joined); err != nil {
			return err
		}
	} else if err := writeBatchText(r.p.stdout, head, task, all.Raw); err != nil {
		return err
	}
	if task.State != "DONE" && task.Final() {
		return fmt.Errorf("batch %s ended %s: %s", task.ID, task.State, task.Reason)
	}
	return nil
}

// joinPages returns the first page of a task with accesses replaced by every page's, and the
// cursor of the rest when max cut them short.
func joinPages(head json.RawMessage, accesses []json.RawMessage, next string) (json.RawMessage, error) {
	fields, err := objectFields(head)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	add := func(name string, v any) error {
		val, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if n > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
		n++
		return nil
	}
	for _, f := range fields {
		var err error
		switch f.name {
		case "nextCursor":
			continue
		case "accesses":
			err = add(f.name, accesses)
		default:
			err = add(f.name, f.value)
		}
		if err != nil {
			return nil, err
		}
	}
	if next != "" {
		if err := add("nextCursor", next); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeBatchText(w io.Writer, head json.RawMessage, t *client.BatchTask, accesses []json.RawMessage) error {
	if err := writeObject(w, head, "accesses", "errors", "nextCursor"); err != nil {
		return err
	}
	if len(accesses) > 0 {
		until := "until they are purged"
		if t.PasswordsUntil != nil {
			until = "until " + t.PasswordsUntil.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "\nAccesses created (%d); the passwords are readable %s: store them safely.\n", len(accesses), until)
		if err := writeTable(w, accesses, batchAccessColumns); err != nil {
			return err
		}
	}
	if len(t.Errors) > 0 {
		raw := make([]json.RawMessage, len(t.Errors))
		for i, e := range t.Errors {
			raw[i], _ = json.Marshal(e)
		}
		fmt.Fprintf(w, "\nItems that failed (%d):\n", len(t.Errors))
		return writeTable(w, raw, batchErrorColumns)
	}
	return nil
}
