package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newRmCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rm LOCATOR KEY",
		Short: "Remove one key from a state",
		Long: `Remove KEY from the state LOCATOR names and wait until the change is durable.
A KEY that does not exist is an error (exit 1).`,
		Example: `  ssmstate rm 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' _serve/abc123
  ssmstate rm /var/lib/tailscale/tailscaled.state old-profile --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, key := args[0], args[1]
			if err := parseLocators(loc); err != nil {
				return err
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			if err := ops.Remove(runCtx(cmd), loc, key, o); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"locator": loc, "key": key, "removed": true})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", key)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	return cmd
}
