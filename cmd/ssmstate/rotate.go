package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newRotateCmd() *cobra.Command {
	var (
		asJSON     bool
		toKey      string
		enableAuto bool
		period     int32
	)
	cmd := &cobra.Command{
		Use:   "rotate LOCATOR (--to-key KEY | --enable-auto-rotation [--period DAYS])",
		Short: "Re-encrypt a state under another KMS key, or turn on the key's automatic rotation",
		Long: `With --to-key, re-encrypt every parameter of the state under KEY (a key id,
key ARN, alias/NAME or a bare NAME meaning alias/NAME): the state is written
anew under KEY, parts and all, and the superseded parts under the old key are
removed. It is then verified by reading it back through the new locator and
by checking that every parameter is encrypted under KEY. The new locator is
printed on stdout; switch the node to it. The old key is then no longer
needed by this state (disable it once every node uses the new locator).

With --enable-auto-rotation, turn on KMS automatic rotation of the locator's
key, every --period days (90 to 2560; default KMS's 365). The key id does not
change and old ciphertexts keep decrypting, so the locator stays the same.`,
		Example: `  ssmstate rotate 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-2025' --to-key alias/ts-2026
  NEW=$(ssmstate rotate "$OLD" --to-key alias/ts-2026) && tailscaled --state="$NEW"
  ssmstate rotate 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' --enable-auto-rotation --period 180`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc := args[0]
			if err := parseLocators(loc); err != nil {
				return err
			}
			switch {
			case toKey == "" && !enableAuto:
				return usageError{errors.New("give --to-key KEY to re-encrypt under another key, or --enable-auto-rotation")}
			case toKey != "" && enableAuto:
				return usageError{errors.New("--to-key and --enable-auto-rotation are separate operations; run them one after the other")}
			case cmd.Flags().Changed("period") && !enableAuto:
				return usageError{errors.New("--period goes with --enable-auto-rotation")}
			case cmd.Flags().Changed("period") && (period < 90 || period > 2560):
				return usageError{fmt.Errorf("--period %d is outside what KMS accepts: give 90 to 2560 days", period)}
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if enableAuto {
				res, err := ops.EnableAutoRotation(runCtx(cmd), loc, period, o)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(out, res)
				}
				_, err = fmt.Fprintf(out, "automatic rotation of %s: %s\n", res.KeyARN, rotationText(res.Rotation))
				return err
			}
			res, err := ops.Rotate(runCtx(cmd), loc, toKey, o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(out, res)
			}
			fmt.Fprintf(errOut, "re-encrypted %d parameters (%d keys) under %s; verified by reading back and by each parameter's key\n", len(res.Parameters), res.Keys, res.KeyARN)
			for _, s := range res.Stale {
				fmt.Fprintf(errOut, "warning: superseded parameter %s still exists (no current state in it); delete it with: aws ssm delete-parameter --name %s\n", s, s)
			}
			_, err = fmt.Fprintln(out, res.NewLocator)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	f.StringVar(&toKey, "to-key", "", "KMS key to re-encrypt the state under (key id, key ARN, alias/NAME or NAME)")
	f.BoolVar(&enableAuto, "enable-auto-rotation", false, "turn on KMS automatic rotation of the locator's key")
	f.Int32Var(&period, "period", 0, "rotation period in days for --enable-auto-rotation (90-2560; default 365)")
	return cmd
}
