package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newReplicateCmd() *cobra.Command {
	var (
		asJSON   bool
		toRegion string
		kmsKey   string
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "replicate LOCATOR --to-region REGION [--kms-key KEY]",
		Short: "Copy a state to the same parameter name in another Region, verified",
		Long: `Copy the state LOCATOR names to the parameter of the same name in REGION,
for recovery there, and verify the copy by reading it back. The copy is
encrypted under --kms-key when given; otherwise, when the locator's key is a
multi-Region key (mrk-…), under its replica in REGION (create one with
aws kms replicate-key); a single-Region key cannot serve another Region, so
--kms-key is then required. Without a kmsKey the copy uses aws/ssm in REGION.
The new locator is printed on stdout. A destination that already holds a
state is refused unless --force.`,
		Example: `  ssmstate replicate 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-mrk' --to-region eu-west-1
  ssmstate replicate 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' --to-region eu-west-1 --kms-key alias/ts-prod-eu`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc := args[0]
			if err := parseLocators(loc); err != nil {
				return err
			}
			if toRegion == "" {
				return usageError{errors.New("give --to-region REGION, e.g. --to-region eu-west-1")}
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			o.Force = force
			res, err := ops.Replicate(runCtx(cmd), loc, toRegion, kmsKey, o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			how := "aws/ssm"
			if res.KeyARN != "" {
				how = res.KeyARN
				if res.MultiRegionReplica {
					how += " (the multi-Region key's replica)"
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "replicated %d keys to %s under %s; verified by reading them back\n", res.Keys, toRegion, how)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), res.NewLocator)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	f.StringVar(&toRegion, "to-region", "", "Region to copy the state to (required)")
	f.StringVar(&kmsKey, "kms-key", "", "KMS key in REGION to encrypt the copy under (default: the multi-Region key's replica)")
	f.BoolVar(&force, "force", false, "replace a state that the destination already holds")
	return cmd
}
