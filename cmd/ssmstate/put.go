package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newPutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "put LOCATOR KEY [VALUE|-]",
		Short: "Set one key's value, from the argument or standard input",
		Long: `Set KEY in the state LOCATOR names to VALUE and wait until the change is
durable. With "-" or no VALUE the value is read from standard input, byte for
byte (prefer this for secrets: an argument shows in the process list and the
shell history). Writing the value a key already has changes nothing and makes
no AWS call.`,
		Example: `  ssmstate put 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' _current-profile profile-1a2b
  ssmstate put /var/lib/tailscale/tailscaled.state _machinekey - < machinekey`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, key := args[0], args[1]
			var value []byte
			if len(args) == 3 && args[2] != "-" {
				value = []byte(args[2])
			} else {
				var err error
				if value, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return fmt.Errorf("read the value of %s from standard input: %w", key, err)
				}
				if value == nil {
					value = []byte{} // empty input is an empty value, not a deletion
				}
			}
			s, err := openStore(cmd, loc)
			if err != nil {
				return err
			}
			if err := s.WriteState(runCtx(cmd), key, value); err != nil {
				s.Close()
				return err
			}
			if err := s.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes)\n", key, len(value))
			return err
		},
	}
}
