package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/audit"
	"github.com/ssmstate/ssmstate/locator"
)

func newAuditCmd() *cobra.Command {
	var (
		since  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "audit LOCATOR",
		Short: "List who read (decrypted), wrote or was denied on a node's state, from CloudTrail",
		Long: `List the calls on LOCATOR's state recorded by CloudTrail in the locator's
Region (LookupEvents; the caller needs cloudtrail:LookupEvents): SSM calls on
the parameter, and KMS Decrypt, Encrypt and GenerateDataKey calls whose
encryption context names the parameter or one of its parts — the
decryptions Parameter Store makes as the caller. Each line gives the time, what
happened (read, decrypt, write, delete, encrypt, DENIED, FAILED), the
principal, the action and the parameter; a summary per principal follows.

It works against CloudTrail and the local endpoint alike. CloudTrail keeps 90
days of management events and delivers them within minutes.`,
		Example: `  ssmstate audit --since 72h 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'
  ssmstate audit --json 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1' | jq '.events[] | select(.denied)'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := locator.Parse(args[0])
			if err != nil {
				return usageError{err}
			}
			if loc.Kind != locator.KindSSM {
				return usageError{fmt.Errorf("locator %s is not an SSM parameter ARN: only SSM state has a CloudTrail record", args[0])}
			}
			if since <= 0 {
				return usageError{fmt.Errorf("--since %s: want a positive duration such as 24h", since)}
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			rep, err := audit.Lookup(runCtx(cmd), loc, audit.Options{AWSConfig: o.AWSConfig, Since: since})
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&since, "since", audit.DefaultSince, "how far back to look (CloudTrail keeps 90 days)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
