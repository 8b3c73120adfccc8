package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

// The subcommands most resources have alike: list, get and delete. Each takes the client's
// method for its resource, such as (*client.Client).APIKeys, and a completion of the argument
// (nil for none), such as completeAPIKeys.

// listCmd lists a resource's items, every page followed (or --limit of them).
func listCmd[T any](p *program, short string, cols []column, fetch func(*client.Client, context.Context, string, int) (*client.Page[T], error)) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: short, Args: noArgs}
	r := addRemote(p, cmd)
	limit := limitFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runList(r, *limit, cols, func(c *client.Client, cursor string, n int) (*client.Page[T], error) {
			return fetch(c, cmd.Context(), cursor, n)
		})
	}
	return cmd
}

// getCmd shows the one item its argument, named arg in the usage, names.
func getCmd[T any](p *program, arg, short string, complete func(*remote) cobra.CompletionFunc,
	fetch func(*client.Client, context.Context, string) (*T, json.RawMessage, error)) *cobra.Command {
	cmd, r := oneArgCmd(p, "get", arg, short, complete)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.clientFor(cmd, args, arg)
		if err != nil {
			return err
		}
		_, raw, err := fetch(c, cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return r.show(raw)
	}
	return cmd
}

// deleteCmd deletes the item its argument names, then says so with said, a format of the
// argument.
func deleteCmd(p *program, arg, short string, complete func(*remote) cobra.CompletionFunc,
	del func(*client.Client, context.Context, string) error, said string) *cobra.Command {
	cmd, r := oneArgCmd(p, "delete", arg, short, complete)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.clientFor(cmd, args, arg)
		if err != nil {
			return err
		}
		if err := del(c, cmd.Context(), args[0]); err != nil {
			return err
		}
		return r.said(said, args[0])
	}
	return cmd
}

// oneArgCmd is a command "verb ARG" with the connection flags and, unless complete is nil,
// ARG completed.
func oneArgCmd(p *program, verb, arg, short string, complete func(*remote) cobra.CompletionFunc) (*cobra.Command, *remote) {
	cmd := &cobra.Command{Use: verb + " " + arg, Short: short}
	r := addRemote(p, cmd)
	if complete != nil {
		cmd.ValidArgsFunction = complete(r)
	}
	return cmd, r
}

// clientFor checks the command was given its one argument, named arg in the usage ("ID|EMAIL"
// reads "ID or EMAIL"), and returns the client to call with.
func (r *remote) clientFor(cmd *cobra.Command, args []string, arg string) (*client.Client, error) {
	if err := needOne(cmd, args, strings.ReplaceAll(arg, "|", " or ")); err != nil {
		return nil, err
	}
	return r.client()
}

// completeItems completes an argument with the first page of a list, each item as value
// gives it ("value" or "value\tdescription").
func completeItems[T any](r *remote, fetch func(*client.Client, context.Context, string, int) (*client.Page[T], error), value func(T) string) cobra.CompletionFunc {
	return completeFrom(r, func(c *client.Client, cmd *cobra.Command) ([]string, error) {
		page, err := fetch(c, cmd.Context(), "", client.MaxPage)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(page.Items))
		for i, it := range page.Items {
			out[i] = value(it)
		}
		return out, nil
	})
}
