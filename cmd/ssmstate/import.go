package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newImportCmd() *cobra.Command {
	var (
		asJSON bool
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "import LOCATOR [FILE|-]",
		Short: "Store a state given in Tailscale's tailscaled.state JSON format",
		Long: `Read a state in Tailscale's tailscaled.state format (a JSON object of key to
base64 value) from FILE or, with - or no FILE, from stdin, store it at LOCATOR
and verify it by reading it back. A LOCATOR that already holds a state is
refused unless --force, which replaces it (keys absent from the input are
removed).`,
		Example: `  ssmstate import 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' /var/lib/tailscale/tailscaled.state
  ssmstate export old.state - | ssmstate import 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' -`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, file := args[0], "-"
			if len(args) == 2 {
				file = args[1]
			}
			if err := parseLocators(loc); err != nil {
				return err
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			o.Force = force
			var in io.Reader = cmd.InOrStdin()
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return &ops.Error{Cause: fmt.Sprintf("cannot read %s: %v", file, err), Fix: "give the path of a tailscaled.state file, or - for stdin"}
				}
				defer f.Close()
				in = f
			}
			n, err := ops.Import(runCtx(cmd), loc, in, o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"locator": loc, "keys": n, "verified": true})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "imported %d keys, verified by reading them back\n", n)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	cmd.Flags().BoolVar(&force, "force", false, "replace a state that LOCATOR already holds")
	return cmd
}
