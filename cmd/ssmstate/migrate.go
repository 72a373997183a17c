package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newMigrateCmd() *cobra.Command {
	var (
		asJSON bool
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "migrate FROM TO",
		Short: "Copy a state between any two locators (file, mem:, SSM ARN), verified, source untouched",
		Long: `Copy the whole state FROM names to TO — a tailscaled.state file, mem:NAME or
an SSM parameter ARN, in any combination — then verify the copy by reading it
back and check that FROM is unchanged. FROM is never written. A TO that
already holds a state is refused unless --force, which replaces it.

To move a node to SSM: stop tailscaled, migrate its tailscaled.state to the
ARN, then start it with --state=ARN.`,
		Example: `  ssmstate migrate /var/lib/tailscale/tailscaled.state 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'
  ssmstate migrate 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' backup.state`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseLocators(args...); err != nil {
				return err
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			o.Force = force
			res, err := ops.Migrate(runCtx(cmd), args[0], args[1], o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "migrated %d keys (%d bytes) to %s, verified by reading them back; the source is unchanged\n", res.Keys, res.Bytes, res.To)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	cmd.Flags().BoolVar(&force, "force", false, "replace a state that TO already holds")
	return cmd
}
