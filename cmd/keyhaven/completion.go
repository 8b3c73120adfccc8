package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"keyhaven.dev/keyhaven/internal/client"
)

func newCompletionCmd(p *program) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish|powershell",
		Short:     "Print the shell completion script",
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Long: `Print the script that completes keyhaven's commands, flags and, from the server logged in to, names
and ids, for a shell:

  bash:        source <(keyhaven completion bash)
               or keyhaven completion bash > /etc/bash_completion.d/keyhaven
  zsh:         keyhaven completion zsh > "${fpath[1]}/_keyhaven"
  fish:        keyhaven completion fish > ~/.config/fish/completions/keyhaven.fish
  powershell:  keyhaven completion powershell | Out-String | Invoke-Expression`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("completion needs a shell: bash, zsh, fish or powershell")
			}
			root, w := cmd.Root(), p.stdout
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(w)
			}
			return fmt.Errorf("no completion for the shell %q: give bash, zsh, fish or powershell", args[0])
		},
	}
}

// completeFrom completes a command's first argument with what fetch reads from the server
// ("value" or "value\tdescription"), calling as the command would. Completion never fails
// loudly: without a server or a login it offers nothing.
func completeFrom(r *remote, fetch func(c *client.Client, cmd *cobra.Command) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if bindEnv(cmd.Flags(), r.p.getenv) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := r.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		values, err := fetch(c, cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
